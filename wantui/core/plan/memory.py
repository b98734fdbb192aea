"""Peak GPU and host memory of the three steps, from first principles and musubi-tuner's code.

Training (trainer_base.py, wan_train_network.py, wan/modules/model.py, at v0.3.4):

- **Weights.** ``--fp8_base`` casts the whole DiT to float8_e4m3fn (1 byte per weight);
  ``--fp8_scaled`` quantises only the blocks' Linear weights (plus a 16-bit scale per 64
  weights) and keeps the rest in the DiT's dtype. Without ``--blocks_to_swap`` the file is loaded straight onto the GPU in
  its own dtype and cast there while the loaded state dict is still referenced, so the
  load peak is the file's dtype plus the cast copy.
- **Block swap.** The DiT is loaded on the CPU; ``N - S`` blocks stay on the GPU and the
  ``S`` swapped blocks' Linear weights live in host RAM. The classic offloader exchanges
  weights in place; the H2D-only mode (``--block_swap_h2d_only``) adds a ring of
  ``--block_swap_ring_size`` (2) GPU buffers.
- **Wan2.2 experts.** With ``--dit_high_noise`` both experts stay on the GPU, or the
  resident part of both with block swap; ``--offload_inactive_dit`` keeps the inactive one
  in RAM, moved with non_blocking copies, i.e. pinned memory (torch's host allocator
  rounds each tensor up to a power of two).
- **Activations.** With ``--gradient_checkpointing`` every block keeps its bf16 input
  (``L x dim`` per sample) and one block is recomputed at a time; with
  ``--gradient_checkpointing_cpu_offload`` the block inputs go to host RAM. Wan2.2 tasks
  carry a per-token fp32 time embedding ``[B, L, 6, dim]`` through every block.
- **LoRA.** fp32 weights (``network_dtype = float32``), fp32 gradients, optimizer state.

The per-token constants (bytes per token per ``dim``) are counted from the block's forward:
the tensors autograd saves in ``WanAttentionBlock._forward`` (norm inputs in fp32, q/k/v,
attention output, FFN hidden and GELU output) and the gradients in flight. They and the
allocator overhead are checked against the published figures in calibration.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wantui.core.plan.arch import DitArch, lora_params

GiB = 1024**3
HOST_OVERHEAD = 4 * GiB  # Python, torch, CUDA runtime and the data pipeline in host RAM
CUDA_CONTEXT = 0.8 * GiB  # the CUDA context and cuBLAS workspaces, outside torch's allocator
ALLOCATOR_SLACK = 1.10  # caching allocator: fragmentation and reuse slack on activations

# bytes per token, in units of dim (and of ffn_dim), at 2-byte activations
SAVED_PER_BLOCK_CKPT = 2  # the block's bf16 input
BLOCK_WORK_DIM = 62  # one block's saved tensors plus gradients in flight, during its backward
BLOCK_WORK_FFN = 4  # FFN hidden and GELU output
WAN22_BLOCK_EXTRA = 32  # Wan2.2: modulation + e in fp32 per token inside a block
WAN22_TIME = 28  # Wan2.2: e0 [L, 6, dim] + e [L, dim] in fp32, alive for the whole step
STREAM = 8  # the residual stream between blocks (fp32 addcmul result + bf16 copy)

OPTIMIZER_BYTES = {  # state bytes per LoRA parameter
    "adamw": 8,
    "adamw8bit": 2,
    "pagedadamw8bit": 2,
    "adamwschedulefree": 4,
    "adafactor": 0.1,
    "came": 0.2,
    "prodigy": 16,
    "lion": 4,
    "lion8bit": 1,
    "sgd": 0,
}


@dataclass
class TrainSettings:
    """What one training step's memory depends on (read from the flags and the dataset)."""

    arch: DitArch
    seq: int  # tokens of the largest sample
    batch: int = 1
    experts: int = 1  # 2 with --dit_high_noise
    fp8_base: bool = False
    fp8_scaled: bool = False
    act_bytes: int = 2  # 2 with bf16/fp16 mixed precision, 4 with "no"
    blocks_to_swap: int = 0
    h2d_only: bool = False
    ring_size: int = 2
    pinned: bool = False
    grad_ckpt: bool = False
    ckpt_offload: bool = False
    offload_inactive: bool = False
    force_v21_time: bool = False
    rank: int = 4
    optimizer: str = "adamw"
    windows: bool = False


@dataclass
class Estimate:
    vram: float  # bytes
    ram: float  # bytes
    parts: dict[str, float] = field(default_factory=dict)  # what makes the VRAM peak
    ram_parts: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _pow2(n: float) -> float:
    """torch's pinned host allocator rounds each block up to a power of two."""
    return float(1 << max(int(n) - 1, 1).bit_length())


def _dtype_bytes(name: str) -> int:
    return {"fp32": 4, "bf16": 2, "fp16": 2}.get(name, 1 if name.startswith("fp8") else 2)


def weight_bytes(s: TrainSettings) -> tuple[float, float, float]:
    """(one block's Linear weights, one block's other parameters, non-block parameters) in
    bytes, as they sit in memory during training."""
    a = s.arch
    compute = 4 if a.file_dtype == "fp32" else 2  # an fp8 file is up-cast without --fp8_base
    lin = 1 if s.fp8_base else compute
    if s.fp8_base and s.fp8_scaled:
        # block-wise scales: one 16-bit scale per 64 weights (optimize_state_dict_with_fp8,
        # quantization_mode "block", block_size 64)
        lin += 2 / 64
    other = 1 if (s.fp8_base and not s.fp8_scaled) else compute
    return a.block_linear * lin, a.block_other * other, a.outside * other


def train_memory(s: TrainSettings) -> Estimate:
    a = s.arch
    n = a.layers
    swap = max(0, min(s.blocks_to_swap, n - 1))
    blk_lin, blk_other, outside = weight_bytes(s)
    expert = n * (blk_lin + blk_other) + outside
    on_gpu_blocks = n - swap + (min(s.ring_size, swap) if (s.h2d_only and swap) else 0)
    resident = on_gpu_blocks * blk_lin + n * blk_other + outside
    gpu_experts = 1 if (s.experts == 1 or s.offload_inactive) else 2
    weights = resident * gpu_experts

    p_lora = lora_params(a, s.rank)
    lora = p_lora * (4 + 4 + OPTIMIZER_BYTES.get(s.optimizer, 8))
    tok = s.seq * s.batch
    d, f = a.dim, a.ffn
    scale = s.act_bytes / 2
    wan22 = a.v2_2 and not s.force_v21_time
    work = tok * (BLOCK_WORK_DIM * d + BLOCK_WORK_FFN * f + (WAN22_BLOCK_EXTRA * d if wan22 else 0))
    time_emb = tok * WAN22_TIME * d if wan22 else 0.0
    stream = tok * STREAM * d
    if s.grad_ckpt:
        saved = 0.0 if s.ckpt_offload else n * tok * SAVED_PER_BLOCK_CKPT * d
    else:
        # every block keeps what its backward needs: its working set less the transient grads
        per_block = tok * ((BLOCK_WORK_DIM - 8) * d + BLOCK_WORK_FFN * f)
        per_block += tok * 24 * d if wan22 else 0  # the fp32 modulation sum stays referenced
        saved = (n - 1) * per_block
    activations = (saved + work + time_emb + stream) * scale * ALLOCATOR_SLACK
    step_peak = weights + lora + activations + CUDA_CONTEXT

    # loading: without block swap the DiT arrives on the GPU in the file's dtype and is cast
    # there while the loaded state dict still holds the originals
    load_peak = 0.0
    if swap == 0:
        file_bytes = a.params * _dtype_bytes(a.file_dtype)
        if s.fp8_scaled:
            # quantised tensor by tensor on the GPU as it loads (load_safetensors_with_lora_and_fp8)
            first = expert + a.dim * a.ffn * _dtype_bytes(a.file_dtype)
        elif s.fp8_base and _dtype_bytes(a.file_dtype) > 1:
            first = file_bytes + expert  # model.to(fp8) while the loaded state dict lives
        elif not s.fp8_base and _dtype_bytes(a.file_dtype) == 1:
            first = file_bytes + expert  # an fp8 file up-cast to 16 bits, likewise
        else:
            first = file_bytes
        load_peak = (expert if gpu_experts == 2 else 0) + first + CUDA_CONTEXT
    parts = {
        "DiT weights on the GPU": weights,
        "LoRA, gradients, optimizer": lora,
        "activations": activations,
        "CUDA context": CUDA_CONTEXT,
    }
    notes: list[str] = []
    if load_peak > step_peak:
        parts = {"loading the DiT (file dtype + cast copy)": load_peak}
        notes.append(
            "the peak is while loading: without --blocks_to_swap the DiT is loaded onto the"
            " GPU in the file's dtype and cast there"
        )

    ram_parts: dict[str, float] = {"Python, torch, data pipeline": HOST_OVERHEAD}
    if swap:
        # loaded on the CPU (loading_device = cpu), then all but the swapped blocks move over
        ram_parts["DiT loaded on the CPU for block swap"] = expert * s.experts
        if s.pinned:
            extra = sum(_pow2(i * o * (blk_lin / a.block_linear)) for i, o in a.linear_shapes())
            ram_parts["pinned copies of swapped blocks"] = extra * swap * s.experts
    if s.experts == 2 and s.offload_inactive and not swap:
        per_expert = (
            n * sum(_pow2(i * o * (blk_lin / a.block_linear)) for i, o in a.linear_shapes())
            + n * blk_other
            + outside
        )
        ram_parts["both experts' pinned CPU copies (--offload_inactive_dit)"] = 2 * per_expert
    if s.grad_ckpt and s.ckpt_offload:
        ram_parts["checkpointed activations (--gradient_checkpointing_cpu_offload)"] = (
            n * tok * SAVED_PER_BLOCK_CKPT * d * scale
        )
    ram = sum(ram_parts.values())
    return Estimate(max(step_peak, load_peak), ram, parts, ram_parts, notes)


# -- the caching steps ----------------------------------------------------------------------

VAE_PARAMS = 127e6
VAE_BYTES_PER_PIXEL = 96 * 2 * 10  # 96 channels at full size, bf16, ~10 live tensors
CLIP_BYTES = 1.3 * GiB  # Wan2.1 I2V: the open-clip XLM-R ViT-H, fp16
T5_PARAMS = 5.68e9  # umt5-xxl encoder
T5_EMBED = 256384 * 4096  # stays 16-bit with --fp8_t5


def latents_memory(width: int, height: int, frames: int, *, batch: int = 1,
                   clip: bool = False, vae_cache_cpu: bool = False) -> Estimate:  # fmt: skip
    """wan_cache_latents.py: the Wan VAE encodes the first frame, then 4 frames at a time
    with a causal feature cache; the first stage at full resolution sets the peak."""
    chunk = 1 if frames <= 1 else 4
    act = width * height * chunk * batch * VAE_BYTES_PER_PIXEL * (0.7 if vae_cache_cpu else 1.0)
    parts = {"VAE weights": VAE_PARAMS * 2, "VAE activations": act, "CUDA context": CUDA_CONTEXT}
    if clip:
        parts["CLIP image encoder"] = CLIP_BYTES
    frames_ram = width * height * 3 * max(frames, 1) * batch * 5  # uint8 frames + float copies
    ram_parts = {"Python, torch, data pipeline": HOST_OVERHEAD, "decoded frames": frames_ram}
    return Estimate(sum(parts.values()), sum(ram_parts.values()), parts, ram_parts)


def te_memory(*, t5_params: float = T5_PARAMS, t5_file_bytes: float | None = None,
              fp8_t5: bool = False, batch: int = 16) -> Estimate:  # fmt: skip
    """wan_cache_text_encoder_outputs.py: the T5 encoder on the GPU (bf16, or fp8 Linears
    with --fp8_t5) and ``--batch_size`` prompts of 512 tokens."""
    weights = (t5_params - T5_EMBED) * 1 + T5_EMBED * 2 if fp8_t5 else t5_params * 2
    act = batch * 512 * (4096 * 12 + 10240 * 4)
    parts = {"T5 weights": weights, "T5 activations": act, "CUDA context": CUDA_CONTEXT}
    # the state dict is read whole into RAM (torch.load / load_file) before it moves
    file_bytes = t5_file_bytes if t5_file_bytes else t5_params * 2
    ram_parts = {"Python, torch": HOST_OVERHEAD, "T5 file read into RAM": file_bytes}
    return Estimate(sum(parts.values()), sum(ram_parts.values()), parts, ram_parts)
