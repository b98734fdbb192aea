"""Write model files in the real Wan shapes, cheaply.

safetensors: a real header with the real tensor names, dtypes, shapes and contiguous
offsets, then the file is extended to its full declared size with ``os.truncate`` (sparse,
all-zero data). The result is a valid safetensors file: the ``safetensors`` library opens
it. A 14B DiT is ~28 GB on paper and a few hundred kB on disk.

.pth: ``torch.save`` of tensors that are zero-stride views of a one-element storage, so
the pickle records the real shapes while the zip stays tiny (torch is imported lazily,
only by the tests that write .pth files).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from wantui.core.models.headers import DTYPE_SIZES

Spec = dict[str, tuple[str, tuple[int, ...]]]


def write_safetensors(
    path: str | os.PathLike[str], tensors: Spec, metadata: dict[str, str] | None = None
) -> Path:
    """Write a real header for ``tensors`` and extend the file to its declared size."""
    p = Path(path)
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, (dtype, shape) in tensors.items():
        n = 1
        for d in shape:
            n *= d
        nbytes = int(n * DTYPE_SIZES[dtype])
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors pads the header to 8 bytes
    with open(p, "wb") as fh:
        fh.write(len(raw).to_bytes(8, "little"))
        fh.write(raw)
    os.truncate(p, 8 + len(raw) + offset)
    return p


# -- Wan DiT ---------------------------------------------------------------------------

DIT_DIMS = {"1.3B": (1536, 30, 8960, 16), "14B": (5120, 40, 13824, 16), "5B": (3072, 30, 14336, 48)}


def dit_tensors(
    params: str = "14B",
    family: str = "t2v",
    *,
    dtype: str = "BF16",
    prefix: str = "",
    fp8: bool = False,
    fp8_scaled: bool = False,
) -> Spec:
    """The WanModel state dict (musubi's key names and shapes).

    family: t2v (also Wan2.2 t2v-A14B: same keys), i2v (Wan2.1, with img_emb/k_img),
    i2v-A14B (Wan2.2: in_dim 36, no image keys), flf2v, fc (Fun-Control), ti2v (5B).
    ``fp8`` stores the block linear weights as F8_E4M3 (as --fp8_base would);
    ``fp8_scaled`` adds ComfyUI's ``scaled_fp8`` marker and ``.scale_weight`` tensors.
    """
    dim, layers, ffn, out_dim = DIT_DIMS[params]
    in_dim = {"t2v": 16, "i2v": 36, "i2v-A14B": 36, "flf2v": 36, "fc": 48, "ti2v": 48}[family]
    image = family in ("i2v", "flf2v", "fc")
    lin = "F8_E4M3" if (fp8 or fp8_scaled) else dtype
    t: Spec = {}

    def add(name: str, shape: tuple[int, ...], dt: str | None = None) -> None:
        t[prefix + name] = (dt or dtype, shape)
        if fp8_scaled and dt == lin and name.endswith(".weight") and len(shape) == 2:
            t[prefix + name[: -len(".weight")] + ".scale_weight"] = ("F32", (1,))

    add("patch_embedding.weight", (dim, in_dim, 1, 2, 2))
    add("patch_embedding.bias", (dim,))
    add("text_embedding.0.weight", (dim, 4096))
    add("text_embedding.0.bias", (dim,))
    add("text_embedding.2.weight", (dim, dim))
    add("text_embedding.2.bias", (dim,))
    add("time_embedding.0.weight", (dim, 256))
    add("time_embedding.0.bias", (dim,))
    add("time_embedding.2.weight", (dim, dim))
    add("time_embedding.2.bias", (dim,))
    add("time_projection.1.weight", (dim * 6, dim))
    add("time_projection.1.bias", (dim * 6,))
    for i in range(layers):
        b = f"blocks.{i}."
        add(b + "modulation", (1, 6, dim), "F32" if dtype != "F16" else dtype)
        for att in ("self_attn", "cross_attn"):
            for proj in ("q", "k", "v", "o"):
                add(f"{b}{att}.{proj}.weight", (dim, dim), lin)
                add(f"{b}{att}.{proj}.bias", (dim,))
            add(f"{b}{att}.norm_q.weight", (dim,))
            add(f"{b}{att}.norm_k.weight", (dim,))
        if image:
            add(b + "cross_attn.k_img.weight", (dim, dim), lin)
            add(b + "cross_attn.k_img.bias", (dim,))
            add(b + "cross_attn.v_img.weight", (dim, dim), lin)
            add(b + "cross_attn.v_img.bias", (dim,))
            add(b + "cross_attn.norm_k_img.weight", (dim,))
        add(b + "norm3.weight", (dim,))
        add(b + "norm3.bias", (dim,))
        add(b + "ffn.0.weight", (ffn, dim), lin)
        add(b + "ffn.0.bias", (ffn,))
        add(b + "ffn.2.weight", (dim, ffn), lin)
        add(b + "ffn.2.bias", (dim,))
    add("head.head.weight", (out_dim * 4, dim))
    add("head.head.bias", (out_dim * 4,))
    add("head.modulation", (1, 2, dim))
    if image:
        add("img_emb.proj.0.weight", (1280,))
        add("img_emb.proj.0.bias", (1280,))
        add("img_emb.proj.1.weight", (1280, 1280))
        add("img_emb.proj.1.bias", (1280,))
        add("img_emb.proj.3.weight", (dim, 1280))
        add("img_emb.proj.3.bias", (dim,))
        add("img_emb.proj.4.weight", (dim,))
        add("img_emb.proj.4.bias", (dim,))
        if family == "flf2v":
            add("img_emb.emb_pos", (1, 514, 1280))
    if fp8_scaled:
        t["scaled_fp8"] = ("F8_E4M3", (0,))
    return t


# -- VAE -------------------------------------------------------------------------------


def _resblock(s: Spec, p: str, cin: int, cout: int, dt: str) -> None:
    s[p + "residual.0.gamma"] = (dt, (cin, 1, 1, 1))
    s[p + "residual.2.weight"] = (dt, (cout, cin, 3, 3, 3))
    s[p + "residual.2.bias"] = (dt, (cout,))
    s[p + "residual.3.gamma"] = (dt, (cout, 1, 1, 1))
    s[p + "residual.6.weight"] = (dt, (cout, cout, 3, 3, 3))
    s[p + "residual.6.bias"] = (dt, (cout,))
    if cin != cout:
        s[p + "shortcut.weight"] = (dt, (cout, cin, 1, 1, 1))
        s[p + "shortcut.bias"] = (dt, (cout,))


def _middle(s: Spec, p: str, c: int, dt: str) -> None:
    _resblock(s, p + "0.", c, c, dt)
    s[p + "1.norm.gamma"] = (dt, (c, 1, 1))
    s[p + "1.to_qkv.weight"] = (dt, (c * 3, c, 1, 1))
    s[p + "1.to_qkv.bias"] = (dt, (c * 3,))
    s[p + "1.proj.weight"] = (dt, (c, c, 1, 1))
    s[p + "1.proj.bias"] = (dt, (c,))
    _resblock(s, p + "2.", c, c, dt)


def vae_tensors(version: str = "2.1", dtype: str = "BF16") -> Spec:
    """Wan2.1: musubi's ``WanVAE_`` state dict, all 194 tensors (dim 96, z_dim 16,
    dim_mult [1, 2, 4, 4]; the same structure scripts/build_lab.py verified against
    musubi's meta model). "2.2": the TI2V-5B VAE's fingerprint keys (z_dim 48, dim 160,
    12-channel patchified input; its full layout is not known here)."""
    dt = dtype
    if version != "2.1":
        z, base = 48, 160
        return {
            "encoder.conv1.weight": (dt, (base, 12, 3, 3, 3)),
            "encoder.conv1.bias": (dt, (base,)),
            "encoder.head.2.weight": (dt, (z * 2, base * 4, 3, 3, 3)),
            "conv1.weight": (dt, (z * 2, z * 2, 1, 1, 1)),
            "conv1.bias": (dt, (z * 2,)),
            "conv2.weight": (dt, (z, z, 1, 1, 1)),
            "conv2.bias": (dt, (z,)),
            "decoder.conv1.weight": (dt, (1024, z, 3, 3, 3)),
            "decoder.conv1.bias": (dt, (1024,)),
            "decoder.head.2.weight": (dt, (12, base, 3, 3, 3)),
        }
    dim, z_dim = 96, 16
    mult, down_t = [1, 2, 4, 4], [False, True, True]
    s: Spec = {"encoder.conv1.weight": (dt, (dim, 3, 3, 3, 3)), "encoder.conv1.bias": (dt, (dim,))}
    dims = [dim * u for u in [1, *mult]]
    n = 0
    for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:])):
        for _ in range(2):
            _resblock(s, f"encoder.downsamples.{n}.", cin, cout, dt)
            cin, n = cout, n + 1
        if i != len(mult) - 1:
            s[f"encoder.downsamples.{n}.resample.1.weight"] = (dt, (cout, cout, 3, 3))
            s[f"encoder.downsamples.{n}.resample.1.bias"] = (dt, (cout,))
            if down_t[i]:
                s[f"encoder.downsamples.{n}.time_conv.weight"] = (dt, (cout, cout, 3, 1, 1))
                s[f"encoder.downsamples.{n}.time_conv.bias"] = (dt, (cout,))
            n += 1
    top = dims[-1]
    _middle(s, "encoder.middle.", top, dt)
    s["encoder.head.0.gamma"] = (dt, (top, 1, 1, 1))
    s["encoder.head.2.weight"] = (dt, (z_dim * 2, top, 3, 3, 3))
    s["encoder.head.2.bias"] = (dt, (z_dim * 2,))
    s["conv1.weight"] = (dt, (z_dim * 2, z_dim * 2, 1, 1, 1))
    s["conv1.bias"] = (dt, (z_dim * 2,))
    s["conv2.weight"] = (dt, (z_dim, z_dim, 1, 1, 1))
    s["conv2.bias"] = (dt, (z_dim,))
    s["decoder.conv1.weight"] = (dt, (top, z_dim, 3, 3, 3))
    s["decoder.conv1.bias"] = (dt, (top,))
    _middle(s, "decoder.middle.", top, dt)
    up_t = down_t[::-1]
    udims = [dim * u for u in [mult[-1], *mult[::-1]]]
    n = 0
    for i, (cin, cout) in enumerate(zip(udims[:-1], udims[1:])):
        if i in (1, 2, 3):
            cin //= 2  # the previous upsample halved the channels
        for _ in range(3):
            _resblock(s, f"decoder.upsamples.{n}.", cin, cout, dt)
            cin, n = cout, n + 1
        if i != len(mult) - 1:
            s[f"decoder.upsamples.{n}.resample.1.weight"] = (dt, (cout // 2, cout, 3, 3))
            s[f"decoder.upsamples.{n}.resample.1.bias"] = (dt, (cout // 2,))
            if up_t[i]:
                s[f"decoder.upsamples.{n}.time_conv.weight"] = (dt, (cout * 2, cout, 3, 1, 1))
                s[f"decoder.upsamples.{n}.time_conv.bias"] = (dt, (cout * 2,))
            n += 1
    s["decoder.head.0.gamma"] = (dt, (dim, 1, 1, 1))
    s["decoder.head.2.weight"] = (dt, (3, dim, 3, 3, 3))
    s["decoder.head.2.bias"] = (dt, (3,))
    return s


# -- T5 --------------------------------------------------------------------------------


def t5_wan_tensors(dtype: str = "BF16") -> Spec:
    """musubi's T5Encoder keys (242 tensors, umt5-xxl encoder)."""
    t: Spec = {"token_embedding.weight": (dtype, (256384, 4096))}
    for i in range(24):
        b = f"blocks.{i}."
        t[b + "norm1.weight"] = (dtype, (4096,))
        for p in ("q", "k", "v", "o"):
            t[f"{b}attn.{p}.weight"] = (dtype, (4096, 4096))
        t[b + "norm2.weight"] = (dtype, (4096,))
        t[b + "ffn.gate.0.weight"] = (dtype, (10240, 4096))
        t[b + "ffn.fc1.weight"] = (dtype, (10240, 4096))
        t[b + "ffn.fc2.weight"] = (dtype, (4096, 10240))
        t[b + "pos_embedding.embedding.weight"] = (dtype, (32, 64))
    t["norm.weight"] = (dtype, (4096,))
    return t


def t5_hf_tensors(dtype: str = "F16", *, vocab: int = 256384, per_layer_bias: bool = True) -> Spec:
    """transformers UMT5EncoderModel layout (ComfyUI's umt5_xxl_*.safetensors).
    ``vocab=32128, per_layer_bias=False`` gives a plain T5 v1.1 encoder (e.g. Flux's)."""
    t: Spec = {
        "shared.weight": (dtype, (vocab, 4096)),
        "encoder.embed_tokens.weight": (dtype, (vocab, 4096)),
    }
    for i in range(24):
        b = f"encoder.block.{i}.layer."
        for p in ("q", "k", "v", "o"):
            t[f"{b}0.SelfAttention.{p}.weight"] = (dtype, (4096, 4096))
        if per_layer_bias or i == 0:
            t[f"{b}0.SelfAttention.relative_attention_bias.weight"] = (dtype, (32, 64))
        t[f"{b}0.layer_norm.weight"] = (dtype, (4096,))
        t[f"{b}1.DenseReluDense.wi_0.weight"] = (dtype, (10240, 4096))
        t[f"{b}1.DenseReluDense.wi_1.weight"] = (dtype, (10240, 4096))
        t[f"{b}1.DenseReluDense.wo.weight"] = (dtype, (4096, 10240))
        t[f"{b}1.layer_norm.weight"] = (dtype, (4096,))
    t["encoder.final_layer_norm.weight"] = (dtype, (4096,))
    return t


# -- CLIP ------------------------------------------------------------------------------


def clip_wan_tensors(dtype: str = "F16") -> Spec:
    """The Wan-AI open-clip XLM-RoBERTa-large ViT-H/14 (representative subset of its keys)."""
    t: Spec = {
        "log_scale": ("F32", ()),
        "visual.cls_embedding": (dtype, (1, 1, 1280)),
        "visual.pos_embedding": (dtype, (1, 257, 1280)),
        "visual.patch_embedding.weight": (dtype, (1280, 3, 14, 14)),
        "textual.token_embedding.weight": (dtype, (250002, 1024)),
        "textual.head.0.weight": (dtype, (1024, 1024)),
    }
    for i in range(32):
        t[f"visual.transformer.{i}.attn.to_qkv.weight"] = (dtype, (3840, 1280))
        t[f"visual.transformer.{i}.attn.proj.weight"] = (dtype, (1280, 1280))
    return t


def clip_hf_tensors(dtype: str = "F16") -> Spec:
    """An HF transformers CLIP (laion CLIP-ViT-H-14) layout."""
    t: Spec = {
        "vision_model.embeddings.patch_embedding.weight": (dtype, (1280, 3, 14, 14)),
        "vision_model.embeddings.class_embedding": (dtype, (1280,)),
        "text_model.embeddings.token_embedding.weight": (dtype, (49408, 1024)),
        "logit_scale": (dtype, ()),
    }
    for i in range(32):
        t[f"vision_model.encoder.layers.{i}.self_attn.q_proj.weight"] = (dtype, (1280, 1280))
    return t


# -- LoRA ------------------------------------------------------------------------------


def lora_tensors(rank: int = 32, dim: int = 5120, layers: int = 40, dtype: str = "BF16") -> Spec:
    """A musubi networks.lora_wan LoRA (kohya naming: lora_unet_blocks_N_...)."""
    t: Spec = {}
    for i in range(layers):
        for mod in ("self_attn_q", "self_attn_k", "cross_attn_q", "ffn_0"):
            base = f"lora_unet_blocks_{i}_{mod}"
            t[base + ".lora_down.weight"] = (dtype, (rank, dim))
            t[base + ".lora_up.weight"] = (dtype, (dim, rank))
            t[base + ".alpha"] = (dtype, ())
    return t


# -- caches ----------------------------------------------------------------------------


def latent_cache_tensors(*, i2v: bool = False, clip: bool = False, control: bool = False) -> Spec:
    """A video latent cache (13 frames at 96x64) as wan_cache_latents.py writes it."""
    t: Spec = {"latents_4x8x12_bfloat16": ("BF16", (16, 4, 8, 12))}
    if i2v:
        t["latents_image_4x8x12_bfloat16"] = ("BF16", (20, 4, 8, 12))
    if clip:
        t["clip_bfloat16"] = ("BF16", (257, 1280))
    if control:
        t["latents_control_4x8x12_bfloat16"] = ("BF16", (16, 4, 8, 12))
    return t


CACHE_METADATA = {
    "architecture": "wan",
    "width": "96",
    "height": "64",
    "frame_count": "13",
    "format_version": "1.0.1",
}


# -- .pth via torch.save ---------------------------------------------------------------

_TORCH_DTYPES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32", "F8_E4M3": "float8_e4m3fn"}


def write_pth(path: str | os.PathLike[str], tensors: Spec, *, wrap: str | None = None) -> Path:
    """``torch.save`` a state dict with the given names, dtypes and shapes (zero-stride
    views of one-element storages, so the file stays small); ``wrap`` nests it under a key."""
    import torch

    sd = {}
    for name, (dtype, shape) in tensors.items():
        base = torch.zeros(1, dtype=getattr(torch, _TORCH_DTYPES[dtype]))
        sd[name] = base.expand(*shape) if shape else base.reshape(())
    p = Path(path)
    torch.save({wrap: sd} if wrap else sd, p)
    return p
