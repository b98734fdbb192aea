"""The Wan DiT as the planner sees it: sizes, parameter bytes and latent tokens.

Sizes come from the DiT file's header when it can be read (wantui.core.models), else from
musubi-tuner's ``WAN_CONFIGS`` for the ``--task``. Token math follows musubi-tuner v0.3.4:
the Wan VAE compresses 4x in time (``(F - 1) // 4 + 1`` latent frames) and 8x in space, and
the DiT patchifies latents by (1, 2, 2) (wan_train_network.py ``_call_dit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TEXT_LEN = 512  # T5 tokens, padded (WAN_CONFIGS text_len)
TEXT_DIM = 4096
FREQ_DIM = 256
CLIP_TOKENS = 257  # Wan2.1 I2V image tokens in cross-attention

# --task -> (dim, ffn_dim, layers, in_dim, Wan2.2 time embedding, Wan2.1 image cross-attn)
TASKS: dict[str, tuple[int, int, int, int, bool, bool]] = {
    "t2v-14B": (5120, 13824, 40, 16, False, False),
    "t2i-14B": (5120, 13824, 40, 16, False, False),
    "i2v-14B": (5120, 13824, 40, 36, False, True),
    "flf2v-14B": (5120, 13824, 40, 36, False, True),
    "t2v-1.3B": (1536, 8960, 30, 16, False, False),
    "t2v-1.3B-FC": (1536, 8960, 30, 48, False, False),
    "t2v-14B-FC": (5120, 13824, 40, 48, False, False),
    "i2v-14B-FC": (5120, 13824, 40, 48, False, True),
    "t2v-A14B": (5120, 13824, 40, 16, True, False),
    "i2v-A14B": (5120, 13824, 40, 36, True, False),
}
FFN = {1536: 8960, 5120: 13824, 3072: 14336}


@dataclass(frozen=True)
class DitArch:
    """One expert of the DiT."""

    dim: int
    ffn: int
    layers: int
    in_dim: int
    v2_2: bool  # Wan2.2 config: a per-token fp32 time embedding [B, L, 6, dim]
    img_cross: bool  # Wan2.1 I2V: k_img / v_img in every block's cross-attention
    block_linear: int  # elements of one block's Linear weights (what fp8 and block swap move)
    block_other: int  # biases, norms and modulation of one block
    outside: int  # patch/text/time embeddings, head, img_emb
    file_dtype: str  # bf16 | fp16 | fp32 | fp8_e4m3fn | ...
    source: str  # "header" or "task"

    @property
    def params(self) -> int:
        return self.layers * (self.block_linear + self.block_other) + self.outside

    @property
    def size_name(self) -> str:
        return {1536: "1.3B", 5120: "14B", 3072: "5B"}.get(self.dim, f"dim {self.dim}")

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of every Linear in one block: what LoRA wraps (lora_wan.py targets
        WanAttentionBlock's Linears)."""
        d, f = self.dim, self.ffn
        shapes = [(d, d)] * 8 + [(d, f), (f, d)]
        if self.img_cross:
            shapes += [(d, d)] * 2
        return shapes


def _block_counts(dim: int, ffn: int, img_cross: bool) -> tuple[int, int]:
    linear = 8 * dim * dim + 2 * dim * ffn + (2 * dim * dim if img_cross else 0)
    # biases of those Linears, q/k RMSNorm weights (self and cross), norm3, modulation
    other = (8 * dim + ffn + dim) + 4 * dim + 2 * dim + 6 * dim
    if img_cross:
        other += 3 * dim
    return linear, other


def _outside(dim: int, in_dim: int, img_cross: bool) -> int:
    patch = dim * in_dim * 4 + dim
    text = TEXT_DIM * dim + dim + dim * dim + dim
    time = FREQ_DIM * dim + dim + dim * dim + dim + dim * 6 * dim + 6 * dim
    head = dim * 16 * 4 + 16 * 4 + 2 * dim
    img = (1280 * 1280 + 1280 * dim + dim * dim + 4 * dim) if img_cross else 0
    return patch + text + time + head + img


def arch_from_task(task: str, file_dtype: str = "bf16") -> DitArch:
    dim, ffn, layers, in_dim, v22, img = TASKS.get(task, TASKS["t2v-14B"])
    linear, other = _block_counts(dim, ffn, img)
    return DitArch(dim, ffn, layers, in_dim, v22, img, linear, other,
                   _outside(dim, in_dim, img), file_dtype, "task")  # fmt: skip


def arch_from_header(info: Any, task: str) -> DitArch | None:
    """Sizes counted from a DiT's header (a ModelInfo of kind wan-dit), exact to the tensor;
    None when the file is not a readable Wan DiT."""
    if info is None or getattr(info, "kind", None) != "wan-dit" or info.header is None:
        return None
    d = info.details
    dim, layers, in_dim = d.get("dim"), d.get("layers"), d.get("in_dim")
    if not (isinstance(dim, int) and isinstance(layers, int) and layers > 0):
        return None
    prefix = d.get("prefix") or ""
    block_linear = block_other = outside = 0
    for name, meta in info.header.tensors.items():
        key = name[len(prefix) :] if name.startswith(prefix) else name
        if key.startswith("blocks."):
            if len(meta.shape) == 2 and key.endswith(".weight"):
                block_linear += meta.numel
            else:
                block_other += meta.numel
        elif key != "scaled_fp8" and not key.endswith(".scale_weight"):
            outside += meta.numel
    v22 = task in ("t2v-A14B", "i2v-A14B")
    return DitArch(
        dim=dim,
        ffn=FFN.get(dim, 4 * dim),
        layers=layers,
        in_dim=int(in_dim or 16),
        v2_2=v22,
        img_cross=bool(d.get("image_keys")),
        block_linear=block_linear // layers,
        block_other=block_other // layers,
        outside=outside,
        file_dtype=info.dtype or "bf16",
        source="header",
    )


def latent_frames(frames: int) -> int:
    """Wan VAE: the first frame alone, then 4 frames per latent frame."""
    return (max(frames, 1) - 1) // 4 + 1


def bucket_size(width: int, height: int, step: int = 16) -> tuple[int, int]:
    """The largest bucket musubi-tuner can make for a resolution: sides divisible by 16
    (VAE 8 x patch 2). With ``enable_bucket`` other aspect ratios keep the same area or
    less, so this is the peak."""
    return max(step, width // step * step), max(step, height // step * step)


def tokens(width: int, height: int, frames: int) -> int:
    """DiT sequence length of one sample: latent frames x (H/16) x (W/16)."""
    w, h = bucket_size(width, height)
    return latent_frames(frames) * (h // 16) * (w // 16)


def lora_params(arch: DitArch, rank: int) -> int:
    """LoRA parameters: down (rank x in) and up (out x rank) on every block Linear."""
    return arch.layers * sum(rank * (i + o) for i, o in arch.linear_shapes())


def attention_flops_per_token(arch: DitArch, seq: int) -> float:
    """QK^T and AV of self-attention over ``seq`` tokens plus cross-attention over the text."""
    cross = TEXT_LEN + (CLIP_TOKENS if arch.img_cross else 0)
    return 4.0 * arch.dim * (seq + cross)


def linear_flops_per_token(arch: DitArch) -> float:
    """2 FLOPs per weight per token over the Linears that see every latent token (the
    cross-attention k/v see only the text, once per sample)."""
    d, f = arch.dim, arch.ffn
    return 2.0 * (6 * d * d + 2 * d * f)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b) if b > 0 else 0
