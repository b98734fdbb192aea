"""Seconds per training step: FLOPs of the step over the GPU's throughput, then the
settings that cost time.

A LoRA step runs the frozen DiT forward, recomputes it block by block with gradient
checkpointing, and runs backward for the input gradients only (the base weights get no
gradient), so its Linears cost about 2 forward passes (3 with checkpointing) and attention
about 3.5 (4.5): flash/SDPA backward recomputes the scores. The achieved fraction of the
GPU's dense bf16 rate (``MFU``) is an assumption for this workload (large d=5120 matmuls,
fp32 element-wise modulation, LoRA side-branches); the factors below come from the
published comparisons in calibration.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wantui.core.plan.arch import (
    TEXT_LEN,
    DitArch,
    attention_flops_per_token,
    linear_flops_per_token,
)
from wantui.core.plan.gpus import GpuClass

MFU = 0.35
# the block-swap slowdown at the largest swap (N - 1 blocks), before the transfer bound:
# PR #972: about 50% for the classic offloader without pinned memory, about 10% in H2D mode
SWAP_PENALTY = {"classic": 0.50, "classic-pinned": 0.45, "h2d": 0.10}
PAGEABLE_FRACTION = 0.45  # pageable copies go through a CPU memcpy into pinned staging
WINDOWS_SWAP = 1.6  # WDDM: block swap ~1.6-2x slower than on Linux (musubi-tuner #685, #700)
CKPT_OFFLOAD = 1.10  # PR #537: "between a few percent and 20%"
FP8 = {"none": 1.0, "fp8": 1.08, "fp8_scaled": 1.12}  # docs/wan.md speed order, bf16 > fp8 > scaled
ATTENTION = {"sdpa": 1.0, "xformers": 1.0, "flash_attn": 0.8, "flash3": 0.6, "sage_attn": 1.0}
SPLIT_ATTN = 1.05
UNCERTAINTY = 2.0  # the speed model is trusted within this factor either way
# Python, kernel launches and autocast casts per block and pass (forward, recompute,
# backward), whatever the size: ~80 ops of ~25 us; it sets the floor of small image steps
BLOCK_PASS_OVERHEAD = 0.002


@dataclass
class SpeedSettings:
    arch: DitArch
    seq: float  # mean tokens per sample over the steps
    batch: int = 1
    fp8: str = "none"  # none | fp8 | fp8_scaled
    attention: str = "sdpa"
    split_attn: bool = False
    grad_ckpt: bool = False
    ckpt_offload: bool = False
    blocks_to_swap: int = 0
    swap_mode: str = "classic"  # classic | classic-pinned | h2d
    block_bytes: float = 0.0  # one block's Linear weights as stored (what a swap moves)
    windows: bool = False
    rank: int = 4
    experts: int = 1
    offload_inactive: bool = False
    switch_probability: float = 0.0  # Wan2.2: chance a step uses the other expert
    expert_bytes: float = 0.0


@dataclass
class SpeedEstimate:
    sec_per_step: float
    low: float
    high: float
    parts: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def step_flops(s: SpeedSettings) -> tuple[float, float]:
    """(Linear FLOPs, attention FLOPs) of one training step."""
    a = s.arch
    tok = s.seq * s.batch
    lin_fwd = tok * a.layers * linear_flops_per_token(a)
    lin_fwd += s.batch * a.layers * 2 * 2 * a.dim * a.dim * TEXT_LEN  # cross-attn k, v
    lora_fwd = tok * a.layers * sum(2 * s.rank * (i + o) for i, o in a.linear_shapes())
    attn_fwd = tok * a.layers * attention_flops_per_token(a, int(s.seq))
    recompute = 1 if s.grad_ckpt else 0
    lin = lin_fwd * (2 + recompute) + lora_fwd * (3 + recompute)
    attn = attn_fwd * (3.5 + recompute)
    return lin, attn


def sec_per_step(s: SpeedSettings, gpu: GpuClass) -> SpeedEstimate:
    lin, attn = step_flops(s)
    rate = gpu.tflops * 1e12 * MFU * (1.0 if gpu.bf16 else 0.5)
    t_lin = lin / rate * FP8.get(s.fp8, 1.0)
    t_attn = attn / rate * ATTENTION.get(s.attention, 1.0)
    compute = (t_lin + t_attn) * (SPLIT_ATTN if s.split_attn else 1.0)
    compute += s.arch.layers * (3 if s.grad_ckpt else 2) * BLOCK_PASS_OVERHEAD * s.batch
    parts = {"compute": compute}
    notes: list[str] = []
    t = compute
    if s.grad_ckpt and s.ckpt_offload:
        t *= CKPT_OFFLOAD
    n = s.arch.layers
    swap = max(0, min(s.blocks_to_swap, n - 1))
    if swap:
        penalty = SWAP_PENALTY.get(s.swap_mode, 0.5) * swap / (n - 1)
        # every swapped block crosses the bus in the forward and again in the backward;
        # the classic offloader also copies the outgoing block back to the host
        copies = 2 * swap * (1 if s.swap_mode == "h2d" else 2)
        bw = gpu.pcie * 1e9 * (1.0 if s.swap_mode != "classic" else PAGEABLE_FRACTION)
        transfer = copies * s.block_bytes / bw
        swapped = max(t * (1 + penalty), transfer * 1.05)
        parts["block swap"] = swapped - t
        if transfer * 1.05 > t * (1 + penalty):
            notes.append(
                "block swap is transfer-bound here: the step waits for weights over PCIe"
                " (fewer swapped blocks, --block_swap_h2d_only or pinned memory help)"
            )
        t = swapped
        if s.windows:
            parts["Windows (WDDM) transfers"] = t * (WINDOWS_SWAP - 1)
            t *= WINDOWS_SWAP
    if s.experts == 2 and s.offload_inactive and s.switch_probability:
        switch = s.switch_probability * 2 * s.expert_bytes / (gpu.pcie * 1e9)
        parts["expert switches"] = switch
        t += switch
    return SpeedEstimate(t, t / UNCERTAINTY, t * UNCERTAINTY, parts, notes)
