"""Sound Wan2.2 training settings for a DiT and a GPU (precision, optimizer, fp8,
block swap, data-parallel), each with the reason shown to the user."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

# Sizes of one Wan 14B expert, in GiB, by how its weights are stored in VRAM.
EXPERT_GIB = {"bf16": 28.0, "fp8": 14.0}
BLOCKS_14B = 40
# VRAM kept free for activations, the LoRA, optimizer state and CUDA's own use when
# training video with gradient checkpointing at ~832x480.
HEADROOM_GIB = 16.0
NO_GPU_ASSUMED_GIB = 24.0


@dataclass
class TrainingSettings:
    """Everything the setup decides for the training step, with the reasons shown to the user."""

    task: str = "t2v-A14B"
    mixed_precision: str = "bf16"
    optimizer: str = "adamw8bit"
    learning_rate: str = "2e-4"
    network_dim: int = 32
    network_alpha: int = 32
    fp8_base: bool = False
    fp8_scaled: bool = False
    blocks_to_swap: int = 0
    offload_inactive_dit: bool = False
    gradient_checkpointing: bool = True
    max_train_epochs: int = 16
    save_every_n_epochs: int = 2
    output_name: str = "wan22-lora"
    output_dir: str = "output"
    num_processes: int = 1
    reasons: list[str] = field(default_factory=list)


def task_for(kind: str | None, details: dict | None = None) -> str:
    """``i2v-A14B`` for an image-to-video DiT (36 input channels), else ``t2v-A14B``.

    ``kind``/``details`` come from model inspection; Wan2.2 is only selected by the task."""
    text = (kind or "").lower()
    d = details or {}
    hints = (str(d.get("family", "")), str(d.get("suggested_task", "")), str(d.get("task", "")))
    if "i2v" in text or d.get("in_dim") == 36 or any(h.startswith("i2v") for h in hints):
        return "i2v-A14B"
    return "t2v-A14B"


def precision_for(dtype: str | None) -> str:
    """The script's ``--mixed_precision`` must match a bf16/fp16 DiT (the dtype assertion);
    fp8 and fp32 files are not checked and compute in bf16."""
    d = (dtype or "").lower()
    is_fp16 = d in ("fp16", "f16") or ("float16" in d and "bfloat16" not in d)
    return "fp16" if is_fp16 else "bf16"


def choose_settings(
    *,
    dit_dtype: str | None,
    dit_kind: str | None = None,
    dit_details: dict | None = None,
    two_experts: bool = False,
    vram_gib: float | None = None,
    gpu_count: int = 1,
    data_parallel: bool = True,
    bitsandbytes_ok: bool = True,
    windows: bool | None = None,
    output_name: str = "wan22-lora",
    output_dir: str = "output",
) -> TrainingSettings:
    """Sound Wan2.2 defaults for this DiT and this GPU."""
    windows = sys.platform == "win32" if windows is None else windows
    s = TrainingSettings(output_name=output_name, output_dir=output_dir)
    s.task = task_for(dit_kind, dit_details)
    s.reasons.append(
        f"--task {s.task}: Wan2.2 is only selected by the task (the default is Wan2.1)"
    )
    s.mixed_precision = precision_for(dit_dtype)
    s.reasons.append(
        f"--mixed_precision {s.mixed_precision}: matches the DiT's {dit_dtype or 'unknown'} weights"
    )
    if bitsandbytes_ok:
        s.optimizer = "adamw8bit"
        s.reasons.append("--optimizer_type adamw8bit: bitsandbytes works in the pipeline's Python")
    else:
        s.optimizer = "adamw"
        s.reasons.append("--optimizer_type adamw: bitsandbytes is not usable there")

    if vram_gib is None:
        vram = NO_GPU_ASSUMED_GIB
        s.reasons.append(f"no GPU found: memory settings assume {vram:.0f} GiB")
    else:
        vram = vram_gib
    budget = max(vram - HEADROOM_GIB, 0.0)
    experts = 2 if two_experts else 1
    file_is_fp8 = "float8" in (dit_dtype or "").lower() or "fp8" in (dit_dtype or "").lower()
    if not file_is_fp8 and experts * EXPERT_GIB["bf16"] <= budget:
        s.reasons.append(
            f"{experts} expert(s) in 16-bit fit in {vram:.0f} GiB: no fp8, no block swap"
        )
    else:
        s.fp8_base = True
        # scaling needs 16-bit source weights (an fp8 file cannot be scaled again)
        s.fp8_scaled = not file_is_fp8
        resident = experts
        if experts == 2 and 2 * EXPERT_GIB["fp8"] > budget:
            s.offload_inactive_dit = True  # keeps one expert in VRAM at a time
            resident = 1
        need = resident * EXPERT_GIB["fp8"]
        if need > budget:
            per_block = resident * EXPERT_GIB["fp8"] / BLOCKS_14B
            swap = math.ceil(BLOCKS_14B - budget / per_block)
            s.blocks_to_swap = min(max(swap, 1), BLOCKS_14B - 1)
            # block swap and offloading the inactive DiT cannot be combined
            s.offload_inactive_dit = False
        s.reasons.append(
            f"{vram:.0f} GiB: --fp8_base{' --fp8_scaled' if s.fp8_scaled else ''}"
            + (f", --blocks_to_swap {s.blocks_to_swap}" if s.blocks_to_swap else "")
            + (", --offload_inactive_dit" if s.offload_inactive_dit else "")
        )
    if gpu_count > 1 and windows:
        s.reasons.append(
            f"{gpu_count} GPUs on Windows: one process (multi-GPU fails there on libuv); "
            "use WSL2 to train on all of them"
        )
    elif gpu_count > 1 and data_parallel:
        s.num_processes = gpu_count
        s.reasons.append(
            f"{gpu_count} GPUs: data-parallel training through accelerate "
            f"(--multi_gpu --num_processes {gpu_count}, one copy of the model per GPU)"
        )
    elif gpu_count > 1:
        s.reasons.append(f"{gpu_count} GPUs: one process, one GPU (data-parallel is off)")
    return s
