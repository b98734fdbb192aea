"""Tell what a model file is from its tensor names, dtypes and shapes (docs/reference/wan-facts.md §4).

Fingerprints (all from the header, never the weights):

- Wan DiT: ``patch_embedding.weight`` is ``[dim, in_dim, 1, 2, 2]``; dim and the count of
  ``blocks.N`` give the size (1536/30 = 1.3B, 5120/40 = 14B, 3072/30 = Wan2.2 TI2V-5B);
  in_dim gives the family (16 t2v, 36 i2v/flf2v, 48 fun-control, or ti2v for the 5B);
  ``img_emb.*`` / ``k_img`` keys mark Wan2.1 I2V (absent with in_dim 36: Wan2.2 I2V-A14B).
  The dtype is that of ``blocks.0.cross_attn.k.weight``, exactly what musubi reads.
- Wan VAE: ``conv2.weight`` is ``[z_dim, z_dim, 1, 1, 1]``: 16 for Wan2.1, 48 for the
  Wan2.2 5B VAE.
- T5: the Wan layout has ``token_embedding.weight`` and ``blocks.N.attn.q.weight``; the
  HF/ComfyUI umt5 layout has ``shared.weight`` / ``encoder.block.N.layer.0.SelfAttention``.
- CLIP: the Wan-AI open-clip XLM-R ViT-H file has ``log_scale``, ``visual.cls_embedding``
  and ``textual.token_embedding.weight``.
- LoRA: ``lora_down``/``lora_up`` (or ``lora_A``/``lora_B``) and ``alpha`` keys.
"""

from __future__ import annotations

import re
from typing import Any

from wantui.core.models.families import identify_family
from wantui.core.models.headers import Header, TensorMeta

DIT_KEY = "blocks.0.cross_attn.k.weight"
# musubi accepts only these two spellings (model.py detect_wan_sd_dtype)
ACCEPTED_DIT_PREFIXES = ("", "model.diffusion_model.")

DTYPE_NAMES = {
    "BF16": "bf16",
    "F16": "fp16",
    "F32": "fp32",
    "F8_E4M3": "fp8_e4m3fn",
    "F8_E5M2": "fp8_e5m2",
}

# (dim, layers) -> params
DIT_SIZES = {(1536, 30): "1.3B", (5120, 40): "14B", (3072, 30): "5B"}

_BLOCK_RE = re.compile(r"blocks\.(\d+)\.")
# top-level modules of musubi's WanModel
DIT_MODULES = (
    "patch_embedding.",
    "text_embedding.",
    "time_embedding.",
    "time_projection.",
    "blocks.",
    "head.",
    "img_emb.",
)


def dtype_name(meta: TensorMeta | None) -> str | None:
    if meta is None:
        return None
    return DTYPE_NAMES.get(meta.dtype, meta.dtype.lower())


def majority_dtype(tensors: dict[str, TensorMeta]) -> str | None:
    """The dtype most of the weights (by element count) are stored in."""
    counts: dict[str, int] = {}
    for t in tensors.values():
        counts[t.dtype] = counts.get(t.dtype, 0) + t.numel
    if not counts:
        return None
    best = max(counts, key=lambda k: counts[k])
    return DTYPE_NAMES.get(best, best.lower())


def _try(fn: Any, t: dict[str, TensorMeta], header: Header, filename: str) -> Any:
    """A fingerprint whose key is there with a shape it does not expect (a scalar
    ``token_embedding.weight``, a 1-d ``conv2.weight``) does not match; it never raises."""
    try:
        return fn(t, header, filename)
    except (IndexError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _common_prefix(tensors: dict[str, TensorMeta]) -> str:
    """The first dotted component shared by every key ("module."), or ""."""
    first = next(iter(tensors))
    head = first.split(".", 1)[0] + "."
    if head == first + "." or not all(k.startswith(head) for k in tensors):
        return ""
    return head


def _strip(tensors: dict[str, TensorMeta], prefix: str) -> dict[str, TensorMeta]:
    n = len(prefix)
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix)}


def identify(header: Header, filename: str = "") -> tuple[str, str | None, dict[str, Any]]:
    """Return (kind, dtype, details) for a parsed header."""
    t = header.tensors
    if not t:
        return "unknown", None, {"reason": "the file holds no tensors", "notes": []}
    for fn in (_as_lora, _as_dit, _as_vae, _as_t5, _as_clip):
        got = _try(fn, t, header, filename)
        if got is not None:
            return got
    # every key under one wrapper ("module." from DataParallel, "_orig_mod." from
    # torch.compile, "model."): say what is inside, and that musubi will not take it as is
    prefix = _common_prefix(t)
    if prefix:
        inner = _strip(t, prefix)
        for fn in (_as_lora, _as_dit, _as_vae, _as_t5, _as_clip):
            got = _try(fn, inner, header, filename)
            if got is not None:
                kind, dtype, details = got
                details["key_prefix"] = prefix
                details.setdefault("notes", []).append(
                    f"every key carries the prefix {prefix!r}: musubi's strict load expects the"
                    " keys without it ('Missing key(s) in state_dict'); strip it"
                )
                return kind, dtype, details
    # another musubi-tuner architecture's file: name it rather than say "unknown"
    fam = identify_family(t) or (identify_family(_strip(t, prefix)) if prefix else None)
    if fam is not None:
        return (
            "other-model",
            majority_dtype(t),
            {
                "family": fam.family,
                "part": fam.part,
                "layout": fam.layout,
                "scripts": fam.scripts,
                "reason": f"a {fam.family} {fam.part}, not a Wan file",
                "notes": [
                    f"a {fam.family} {fam.part} ({fam.layout} layout): musubi-tuner's Wan scripts "
                    f"cannot use it; it belongs to its {fam.scripts} scripts"
                ],
            },
        )
    sample = sorted(t)[:3]
    return (
        "unknown",
        majority_dtype(t),
        {
            "reason": "no Wan DiT, VAE, T5, CLIP or LoRA fingerprint matched",
            "first_keys": sample,
            "notes": [],
        },
    )


# -- DiT ---------------------------------------------------------------------------------


def _dit_version_hint(filename: str, metadata: dict[str, str]) -> str | None:
    text = (filename + " " + " ".join(f"{k}={v}" for k, v in metadata.items())).lower()
    if re.search(r"wan[ _.-]?2[._]?2|a14b|high[_-]?noise|low[_-]?noise", text):
        return "2.2"
    if re.search(r"wan[ _.-]?2[._]?1", text):
        return "2.1"
    return None


def _as_dit(t: dict[str, TensorMeta], header: Header, filename: str):
    key = next((k for k in t if k.endswith(DIT_KEY) and "lora" not in k), None)
    if key is None:
        return None
    prefix = key[: -len(DIT_KEY)]
    s = _strip(t, prefix)
    pe = s.get("patch_embedding.weight")
    if pe is None or len(pe.shape) != 5:
        return None
    dim, in_dim = pe.shape[0], pe.shape[1]
    layers = len({int(m.group(1)) for k in s if (m := _BLOCK_RE.match(k))})
    params = DIT_SIZES.get((dim, layers), f"unknown (dim {dim}, {layers} blocks)")
    has_img = any(k.startswith("img_emb.") for k in s) or any(".cross_attn.k_img." in k for k in s)
    notes: list[str] = []
    version: str | None = None
    tasks: list[str]
    if params == "5B" or (in_dim == 48 and dim == 3072):
        family, version, tasks = "ti2v", "2.2", []
        notes.append("Wan2.2 TI2V-5B is not supported by musubi-tuner (14B models only)")
    elif in_dim == 16:
        family = "t2v"
        if params == "1.3B":
            version, tasks = "2.1", ["t2v-1.3B"]
        else:
            version = _dit_version_hint(filename, header.metadata)
            # identical keys: all three load; only the version hint says which is meant
            tasks = ["t2v-14B", "t2i-14B", "t2v-A14B"]
            if version is None:
                notes.append(
                    "Wan2.1 and Wan2.2 T2V 14B have identical keys; the file name and"
                    " metadata do not say which this is"
                )
    elif in_dim == 36:
        if has_img:
            flf = "img_emb.emb_pos" in s
            family, version = ("flf2v" if flf else "i2v"), "2.1"
            tasks = ["flf2v-14B"] if flf else ["i2v-14B"]
        else:
            family, version, tasks = "i2v", "2.2", ["i2v-A14B"]
    elif in_dim == 48:
        family, version = "fun-control", "2.1"
        tasks = ["t2v-1.3B-FC"] if params == "1.3B" else ["t2v-14B-FC", "i2v-14B-FC"]
    else:
        family, tasks = f"unknown (in_dim {in_dim})", []
    if params not in ("1.3B", "14B", "5B"):
        tasks = []
    fp8_scaled = "scaled_fp8" in t or any(k.endswith(".scale_weight") for k in t)
    dtype = "fp8_scaled" if fp8_scaled else dtype_name(s.get(DIT_KEY))
    if fp8_scaled:
        notes.append(
            "ComfyUI fp8_scaled checkpoints are unsupported by musubi-tuner, even with"
            " --fp8_scaled; use the bf16/fp16 file"
        )
    if prefix not in ACCEPTED_DIT_PREFIXES:
        notes.append(
            f"key prefix {prefix!r} is not accepted: musubi reads only 'model.diffusion_model.'"
            " or no prefix ('Could not find the dtype in the model weights')"
        )
    if dtype == "fp8_e4m3fn":
        notes.append("fp8 weights: train with --fp8_base and without --fp8_scaled")
    extra = sum(
        1
        for k in t
        if not (k.startswith(prefix) and k[len(prefix) :].startswith(DIT_MODULES))
        and k != "scaled_fp8"
        and not k.endswith(".scale_weight")
    )
    if extra:
        notes.append(
            f"the file also holds {extra} tensors that are not part of the DiT (a bundled"
            " checkpoint?): musubi's strict load fails with 'Unexpected key(s)'"
        )
    suggested = tasks[0] if tasks else None
    if family == "t2v" and params == "14B":
        suggested = "t2v-A14B" if version == "2.2" else "t2v-14B"
    details: dict[str, Any] = {
        "params": params,
        "family": family,
        "wan_version": version,
        "tasks": tasks,  # every --task whose WanModel the keys and shapes fit
        "suggested_task": suggested,
        "prefix": prefix,
        "dim": dim,
        "in_dim": in_dim,
        "layers": layers,
        "image_keys": has_img,
        "extra_tensors": extra,
        "notes": notes,
    }
    return "wan-dit", dtype, details


# -- VAE ---------------------------------------------------------------------------------


def _as_vae(t: dict[str, TensorMeta], header: Header, filename: str):
    for prefix in ("", "vae.", "first_stage_model.", "model."):
        s = _strip(t, prefix) if prefix else t
        c2 = s.get("conv2.weight")
        enc = s.get("encoder.conv1.weight")
        dec = s.get("decoder.conv1.weight")
        if c2 is not None and enc is not None and dec is not None and len(c2.shape) == 5:
            z = c2.shape[0]
            notes: list[str] = []
            if z == 16:
                version = "2.1"
            elif z == 48:
                version = "2.2-5B"
                notes.append(
                    "this is the Wan2.2 TI2V-5B VAE (z_dim 48): incompatible with the 14B"
                    " models; use the Wan2.1 VAE for Wan2.1 and Wan2.2 14B"
                )
            else:
                version = f"unknown (z_dim {z})"
            details: dict[str, Any] = {
                "version": version,
                "z_dim": z,
                "layout": "wan",
                "notes": notes,
            }
            if prefix:
                details["key_prefix"] = prefix
                notes.append(f"keys carry the prefix {prefix!r}; musubi expects none")
            return "wan-vae", majority_dtype(s), details
    if "encoder.conv_in.weight" in t and "decoder.conv_in.weight" in t:
        ci = t["encoder.conv_in.weight"]
        if len(ci.shape) == 5:
            qc = t.get("quant_conv.weight") or t.get("post_quant_conv.weight")
            z = qc.shape[0] // 2 if qc is not None and "quant_conv.weight" in t else None
            return (
                "wan-vae",
                majority_dtype(t),
                {
                    "version": "2.1" if z == 16 else "unknown",
                    "z_dim": z,
                    "layout": "diffusers",
                    "notes": [
                        "diffusers layout (AutoencoderKLWan): musubi expects the original Wan"
                        " VAE keys (Wan2.1_VAE.pth or wan_2.1_vae.safetensors)"
                    ],
                },
            )
    return None


# -- T5 and other text encoders ------------------------------------------------------------


def _as_t5(t: dict[str, TensorMeta], header: Header, filename: str):
    # musubi removes every "encoder." substring before its strict load (t5.py)
    s = {k.replace("encoder.", ""): v for k, v in t.items()}
    if (
        "token_embedding.weight" in s
        and "blocks.0.attn.q.weight" in s
        and "blocks.0.ffn.fc1.weight" in s
    ):
        blocks = len({int(m.group(1)) for k in s if (m := _BLOCK_RE.match(k))})
        vocab, dim = s["token_embedding.weight"].shape[:2]
        notes: list[str] = []
        if (vocab, dim, blocks) != (256384, 4096, 24):
            notes.append(
                f"Wan layout but not umt5-xxl (vocab {vocab}, dim {dim}, {blocks} blocks):"
                " the strict load will fail with size mismatches"
            )
        return (
            "t5",
            majority_dtype(t),
            {"layout": "wan", "vocab": vocab, "dim": dim, "blocks": blocks, "notes": notes},
        )
    hf_block = any(".SelfAttention.q.weight" in k for k in t)
    if hf_block:
        emb = t.get("shared.weight") or t.get("encoder.embed_tokens.weight")
        vocab = emb.shape[0] if emb is not None else None
        per_layer_bias = any(
            re.search(r"block\.[1-9]\d*\.layer\.0\.SelfAttention\.relative_attention_bias", k)
            for k in t
        )
        is_umt5 = vocab == 256384 or per_layer_bias
        layout = "hf-umt5" if is_umt5 else "other"
        what = "the HF/ComfyUI umt5-xxl layout" if is_umt5 else f"a T5 (vocab {vocab})"
        return (
            "t5",
            majority_dtype(t),
            {
                "layout": layout,
                "encoder": "umt5" if is_umt5 else "t5",
                "vocab": vocab,
                "notes": [
                    f"{what}: musubi's T5Encoder load fails ('Missing key(s) in state_dict:"
                    ' "token_embedding.weight"\'); use models_t5_umt5-xxl-enc-bf16.pth'
                ],
            },
        )
    text_only = any(
        k.startswith(("text_model.", "model.layers.", "transformer.text_model.")) for k in t
    )
    has_vision = any("vision_model." in k or k.startswith("visual.") for k in t)
    if text_only and not has_vision:
        encoder = "clip-text" if any("text_model." in k for k in t) else "llm"
        return (
            "t5",
            majority_dtype(t),
            {
                "layout": "other",
                "encoder": encoder,
                "notes": ["not a T5: another text encoder; Wan needs the umt5-xxl encoder"],
            },
        )
    return None


# -- CLIP ----------------------------------------------------------------------------------


def _as_clip(t: dict[str, TensorMeta], header: Header, filename: str):
    if "log_scale" in t and "visual.cls_embedding" in t and "textual.token_embedding.weight" in t:
        return (
            "clip",
            majority_dtype(t),
            {"variant": "wan-xlm-roberta-vit-h", "tensors": len(t), "notes": []},
        )
    if any(k.startswith("vision_model.") for k in t) or any(k.startswith("visual.") for k in t):
        variant = "hf-clip" if any(k.startswith("vision_model.") for k in t) else "open-clip"
        return (
            "clip",
            majority_dtype(t),
            {
                "variant": variant,
                "tensors": len(t),
                "notes": [
                    "not the Wan-AI CLIP: musubi's XLMRobertaCLIP strict load will fail; use"
                    " models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth"
                ],
            },
        )
    return None


# -- LoRA ----------------------------------------------------------------------------------


def _as_lora(t: dict[str, TensorMeta], header: Header, filename: str):
    downs = [k for k in t if ".lora_down." in k or ".lora_A." in k]
    if not downs:
        return None
    ups = [k for k in t if ".lora_up." in k or ".lora_B." in k]
    ranks = sorted({t[k].shape[0] for k in downs if t[k].shape})
    alphas = sorted({k for k in t if k.endswith(".alpha")})
    sample = downs[0]
    if sample.startswith("lora_unet_"):
        fmt = "musubi/kohya"
    elif ".lora_A." in sample:
        fmt = "peft/diffusers"
    else:
        fmt = "kohya"
    joined = " ".join(downs[:50])
    target = (
        "wan-dit" if re.search(r"blocks[._]\d+[._](self_attn|cross_attn|ffn)", joined) else "other"
    )
    meta = header.metadata
    details: dict[str, Any] = {
        "rank": ranks[0] if len(ranks) == 1 else ranks,
        "modules": len(downs),
        "alpha_keys": len(alphas),
        "format": fmt,
        "target": target,
        "notes": [] if len(ups) == len(downs) else [f"{len(downs)} down vs {len(ups)} up weights"],
    }
    for key in ("ss_network_module", "ss_network_dim", "ss_network_alpha", "ss_base_model_version"):
        if key in meta:
            details[key] = meta[key]
    return "lora", majority_dtype(t), details
