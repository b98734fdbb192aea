"""Published figures the planner is checked against, kept as data with their sources.

``kind`` says what a point checks:
- ``vram``: a measured peak (GB as the source writes it, read as GiB: nvidia-smi and the
  Windows task manager report binary units); the planner must land within ``tolerance``.
- ``host``: the same for host (or Windows "shared GPU") memory.
- ``fits`` / ``no-fit``: a setup a source says runs (or runs out of memory) on a GPU of
  ``gpu_gib``; the planner must find some block swap that fits (or none).
- ``swap-limit``: the largest ``--blocks_to_swap`` musubi-tuner accepts.
- ``speed-ratio``: a slowdown factor a source measured between two settings.
``settings`` are the planner's inputs; anything the source does not say is an assumption
listed in ``assumed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Point:
    id: str
    kind: str
    value: float
    source: str
    quote: str
    settings: dict[str, Any] = field(default_factory=dict)
    assumed: tuple[str, ...] = ()
    tolerance: float = 0.20
    gpu_gib: float | None = None


PR537 = "https://github.com/kohya-ss/musubi-tuner/pull/537"
PR972 = "https://github.com/kohya-ss/musubi-tuner/pull/972"
README = "https://github.com/kohya-ss/musubi-tuner/blob/30c658c/README.md"
WAN_DOC = "https://github.com/kohya-ss/musubi-tuner/blob/30c658c/docs/wan.md"
MODEL_PY = (
    "https://github.com/kohya-ss/musubi-tuner/blob/30c658c/src/musubi_tuner/wan/modules/model.py"
)

_PR537 = {
    "task": "t2v-A14B", "width": 1280, "height": 720, "frames": 25, "fp8_base": True,
    "fp8_scaled": True, "grad_ckpt": True, "rank": 32, "optimizer": "adamw8bit",
}  # fmt: skip
_PR537_ASSUMED = ("rank 32 and adamw8bit (docs/wan.md example)", "batch 1", "one expert",
                  "no block swap")  # fmt: skip

POINTS: tuple[Point, ...] = (
    Point(
        "pr537-wan22-720p25f",
        "vram",
        46.4,
        PR537,
        "Wan2.2 | 1280x720@25f | no cpu offload 46.4GB (--fp8_base --fp8_scaled)",
        _PR537,
        _PR537_ASSUMED,
    ),
    Point(
        "pr537-wan22-720p25f-offload",
        "vram",
        34.4,
        PR537,
        "Wan2.2 | 1280x720@25f | cpu offload 34.4GB",
        {**_PR537, "ckpt_offload": True},
        _PR537_ASSUMED,
    ),
    Point(
        "wan-doc-offload-inactive-42gb",
        "host",
        42.0,
        WAN_DOC + "#L193",
        "Even with fp8/fp8_scaled, about 42GB of shared VRAM is required for the two models"
        " combined (--offload_inactive_dit)",
        {
            "task": "t2v-A14B",
            "width": 960,
            "height": 544,
            "frames": 1,
            "fp8_base": True,
            "fp8_scaled": True,
            "grad_ckpt": True,
            "experts": 2,
            "offload_inactive": True,
        },
        (
            "the pinned host copies of both experts (Windows counts pinned memory as shared VRAM)",
            "the 4 GiB process overhead excluded, as the quote counts models",
        ),
    ),
    Point(
        "readme-12gb-images",
        "fits",
        1.0,
        README + "#L136",
        "12GB or more recommended for image training ... For 12GB, use a resolution of"
        " 960x544 or lower and use memory-saving options such as --blocks_to_swap",
        {
            "task": "t2v-14B",
            "width": 960,
            "height": 544,
            "frames": 1,
            "fp8_base": True,
            "grad_ckpt": True,
            "optimizer": "adamw8bit",
            "rank": 32,
        },
        ("the 14B DiT with --fp8_base", "rank 32, adamw8bit"),
        gpu_gib=12,
    ),
    Point(
        "readme-24gb-video",
        "fits",
        1.0,
        README + "#L136",
        "24GB or more for video training ... 960x544",
        {
            "task": "t2v-14B",
            "width": 960,
            "height": 544,
            "frames": 25,
            "fp8_base": True,
            "grad_ckpt": True,
            "optimizer": "adamw8bit",
            "rank": 32,
        },
        ("the 14B DiT with --fp8_base", "25 frames (the source names no count)"),
        gpu_gib=24,
    ),
    Point(
        "wan-doc-720p-images-24gb",
        "fits",
        1.0,
        WAN_DOC + "#L9",
        "training with 720x1280 images with 24GB VRAM",
        {
            "task": "t2v-14B",
            "width": 1280,
            "height": 720,
            "frames": 1,
            "fp8_base": True,
            "grad_ckpt": True,
            "optimizer": "adamw8bit",
            "rank": 32,
        },
        ("--fp8_base, gradient checkpointing, rank 32",),
        gpu_gib=24,
    ),
    Point(
        "swap-limit-14b",
        "swap-limit",
        39,
        WAN_DOC + "#L322",
        "The maximum value is 39 for 14B model and 29 for 1.3B model.",
        {"task": "t2v-14B"},
        tolerance=0.0,
    ),
    Point(
        "swap-limit-1.3b",
        "swap-limit",
        29,
        MODEL_PY + "#L752",
        "Cannot swap more than {self.num_blocks - 1} blocks",
        {"task": "t2v-1.3B"},
        tolerance=0.0,
    ),
    Point(
        "pr972-classic-swap",
        "speed-ratio",
        1.50,
        PR972,
        "the speed degradation when --use_pinned_memory_for_block_swap is not used has"
        " been reduced from approximately 50% to approximately 10%",
        {"swap_mode": "classic"},
        ("at the largest block swap, compute-bound",),
    ),
    Point(
        "pr972-h2d-swap",
        "speed-ratio",
        1.10,
        PR972,
        "... to approximately 10%",
        {"swap_mode": "h2d"},
        ("at the largest block swap, compute-bound",),
    ),
)

# qualitative reports kept for the docs: they lack a setting the planner would need
REPORTS: tuple[tuple[str, str], ...] = (
    (
        "https://github.com/kohya-ss/musubi-tuner/issues/175",
        "16GB 4070 Ti Super trains Wan2.1 I2V 480p with ~26 blocks swapped (frames not given)",
    ),
    (
        "https://github.com/kohya-ss/musubi-tuner/issues/723",
        "RTX PRO 6000 96GB: i2v-A14B low noise, 720p 81 frames, fp8_scaled, full block swap:"
        " OOM (gradient checkpointing not shown in the excerpt)",
    ),
    (
        "https://github.com/kohya-ss/musubi-tuner/issues/632",
        "RTX 4090, Wan2.2 high noise, rank 4, swap 29, batch 4, 512x512 images: 8 s/it before"
        " PR #585, 24 s/it after",
    ),
    (
        "https://github.com/kohya-ss/musubi-tuner/pull/700",
        "Windows block swap 6.76 s/it, pinned 6.47 s/it, Linux ~4 s/it (Qwen-Image, RTX 5090)",
    ),
    (
        "https://github.com/kohya-ss/musubi-tuner/issues/685",
        "Windows and WSL almost 2x slower than Linux with block swap",
    ),
    (
        "https://github.com/kohya-ss/musubi-tuner/issues/202",
        "RTX 4080 16GB under WSL with 32GB RAM: CUDA OOM with blocks_to_swap",
    ),
)


def point_settings(p: Point) -> Any:
    """The planner's TrainSettings for a point's setup."""
    from wantui.core.plan.arch import arch_from_task, tokens
    from wantui.core.plan.memory import TrainSettings

    s = dict(p.settings)
    arch = arch_from_task(s.pop("task", "t2v-14B"))
    seq = tokens(s.pop("width", 960), s.pop("height", 544), s.pop("frames", 1))
    s.pop("swap_mode", None)
    return TrainSettings(arch=arch, seq=seq, **s)


def predict(p: Point) -> float:
    """What the planner says for a point, in the point's unit (GiB, blocks, or a ratio)."""
    import dataclasses

    from wantui.core.plan.gpus import find_gpu
    from wantui.core.plan.memory import GiB, train_memory
    from wantui.core.plan.planner import min_blocks_to_swap, usable
    from wantui.core.plan.speed import SpeedSettings, sec_per_step

    if p.kind == "swap-limit":
        s = point_settings(p)
        found = min_blocks_to_swap(dataclasses.replace(s, seq=1), 0.0)  # nothing fits 0 bytes
        return float(s.arch.layers - 1) if found is None else -1.0
    if p.kind == "speed-ratio":
        from wantui.core.plan.arch import arch_from_task, tokens

        arch = arch_from_task("t2v-14B")
        base = SpeedSettings(arch, tokens(1280, 720, 81), grad_ckpt=True, fp8="fp8",
                             block_bytes=arch.block_linear)  # fmt: skip
        gpu = find_gpu("RTX 4090")
        assert gpu is not None
        swapped = dataclasses.replace(
            base, blocks_to_swap=arch.layers - 1, swap_mode=p.settings["swap_mode"]
        )
        return sec_per_step(swapped, gpu).sec_per_step / sec_per_step(base, gpu).sec_per_step
    s = point_settings(p)
    est = train_memory(s)
    if p.kind == "vram":
        return est.vram / GiB
    if p.kind == "host":
        pinned = sum(v for k, v in est.ram_parts.items() if "pinned" in k)
        return pinned / GiB
    if p.kind in ("fits", "no-fit"):
        assert p.gpu_gib is not None
        swap = min_blocks_to_swap(s, usable(p.gpu_gib * GiB))
        return 1.0 if swap is not None else 0.0
    raise ValueError(f"unknown calibration kind {p.kind!r}")
