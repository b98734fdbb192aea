"""Reference GPUs: memory and dense bf16 tensor throughput, as the vendors publish them.

``tflops`` is the dense (no sparsity) 16-bit tensor rate with fp32 accumulation, which is
what torch's bf16 matmuls use. GeForce cards run that at half their fp16-accumulate rate.
Figures are from NVIDIA's architecture whitepapers and data sheets (Ampere GA102, Ada
AD102, Blackwell GB202, A100, H100/H200, L40S, RTX PRO 6000). ``pcie`` is the host link's
usable bandwidth in GB/s for pinned copies (block swap moves weights over it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuClass:
    name: str
    memory_gib: float
    tflops: float
    pcie: float = 22.0  # PCIe 4.0 x16, pinned
    bf16: bool = True


# order matters: the first pattern that matches a reported name wins
GPUS: tuple[tuple[str, GpuClass], ...] = (
    (r"rtx pro 6000", GpuClass("RTX PRO 6000 Blackwell", 96, 503.8, 48)),
    (r"rtx 6000 ada|6000 ada", GpuClass("RTX 6000 Ada", 48, 364.2)),
    (r"rtx a6000|\ba6000\b", GpuClass("RTX A6000", 48, 154.8)),
    (r"5090", GpuClass("RTX 5090", 32, 209.5, 48)),
    (r"5080", GpuClass("RTX 5080", 16, 112.6, 48)),
    (r"5070 ti", GpuClass("RTX 5070 Ti", 16, 87.9, 48)),
    (r"5060 ti", GpuClass("RTX 5060 Ti 16GB", 16, 47.4, 24)),
    (r"4090", GpuClass("RTX 4090", 24, 165.2)),
    (r"4080", GpuClass("RTX 4080", 16, 97.5)),
    (r"4070 ti super", GpuClass("RTX 4070 Ti Super", 16, 88.2)),
    (r"4070 ti", GpuClass("RTX 4070 Ti", 12, 80.2)),
    (r"4060 ti", GpuClass("RTX 4060 Ti 16GB", 16, 44.1, 12)),
    (r"3090", GpuClass("RTX 3090", 24, 71.0)),
    (r"3080", GpuClass("RTX 3080", 10, 59.5)),
    (r"3060", GpuClass("RTX 3060 12GB", 12, 25.6)),
    (r"h200", GpuClass("H200", 141, 989.4, 48)),
    (r"h100", GpuClass("H100", 80, 989.4, 48)),
    (r"b200", GpuClass("B200", 180, 2250.0, 48)),
    (r"a100.*40|a100-sxm4-40", GpuClass("A100 40GB", 40, 312.0)),
    (r"a100", GpuClass("A100 80GB", 80, 312.0)),
    (r"l40s", GpuClass("L40S", 48, 362.1)),
    (r"\bl4\b", GpuClass("L4", 24, 121.0, 12)),
    (r"\ba40\b", GpuClass("A40", 48, 149.7)),
    (r"\ba10g?\b", GpuClass("A10", 24, 125.0)),
    (r"v100", GpuClass("V100", 32, 125.0, 12, bf16=False)),
    (r"\bt4\b", GpuClass("T4", 16, 65.0, 12, bf16=False)),
)
# the GPU the speed reference was measured on (calibration.SPEED_REFERENCE)
REFERENCE = "RTX 4090"


def find_gpu(name: str | None) -> GpuClass | None:
    """The reference class for a GPU name as nvidia-smi, torch or a user writes it."""
    if not name:
        return None
    text = re.sub(r"[\s_-]+", " ", name.lower())
    for pattern, gpu in GPUS:
        if re.search(pattern, text):
            return gpu
    return None


def known_names() -> list[str]:
    return [g.name for _, g in GPUS]
