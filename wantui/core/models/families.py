"""Model files of musubi-tuner's other architectures, named from their header's keys.

wantui identifies Wan files in detail (identify.py). Users keep HunyuanVideo, FramePack,
FLUX, Qwen-Image or Z-Image files beside them, and a file of the wrong family is a common
cause of "Missing key(s) in state_dict": ``inspect`` names such a file instead of calling
it ``unknown``. Fingerprints are key names (and the latent channels of a VAE's decoder),
taken from musubi-tuner's model code (commit 30c658c) and the public checkpoints'
layouts; only the header is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Family(NamedTuple):
    family: str  # "HunyuanVideo", "FLUX.1", ...
    part: str  # "DiT", "VAE", "text encoder"
    layout: str  # "musubi/original", "ComfyUI", "diffusers", ...
    scripts: str  # musubi-tuner's scripts for this family


def _has(keys: set[str], *parts: str) -> bool:
    return any(p in k for k in keys for p in parts)


def _starts(keys: set[str], *prefixes: str) -> bool:
    return any(k.startswith(prefixes) for k in keys)


def identify_family(tensors: Mapping[str, object]) -> Family | None:
    """The family and part of a non-Wan model file from its tensor names (and shapes),
    ``None`` when no fingerprint matches."""
    keys = set(tensors)
    # -- DiTs ----------------------------------------------------------------------------
    if _starts(keys, "double_blocks.") or _starts(keys, "single_blocks."):
        if _starts(keys, "vision_in.", "cond_type_embedding"):
            return Family("HunyuanVideo 1.5", "DiT", "original", "hv_1_5_*")
        if _starts(keys, "txt_in.individual_token_refiner"):
            layout = "original" if _has(keys, "img_attn_qkv") else "ComfyUI"
            return Family("HunyuanVideo", "DiT", layout, "hv_*")
        if _has(keys, "double_stream_modulation", "single_stream_modulation"):
            return Family("FLUX.2", "DiT", "original", "flux_2_*")
        return Family("FLUX.1 (dev / Kontext)", "DiT", "original", "flux_kontext_*")
    if _starts(keys, "clean_x_embedder.", "image_projection."):
        return Family("FramePack (HunyuanVideo packed)", "DiT", "diffusers", "fpack_*")
    if _starts(keys, "transformer_blocks.") and _has(keys, ".img_mod.", "txt_norm."):
        return Family("Qwen-Image", "DiT", "diffusers", "qwen_image_*")
    if _starts(keys, "noise_refiner.", "context_refiner.", "all_x_embedder."):
        return Family("Z-Image", "DiT", "original", "zimage_*")
    if _starts(keys, "transformer_blocks.") and _starts(keys, "single_transformer_blocks."):
        return Family("HunyuanVideo / FLUX (diffusers format)", "DiT", "diffusers", "hv_* / flux_*")
    # -- VAEs ----------------------------------------------------------------------------
    if _starts(keys, "encoder.down_blocks.", "decoder.up_blocks."):
        if _has(keys, ".conv1.conv.", "conv_in.conv."):
            return Family("HunyuanVideo", "VAE", "diffusers (CausalConv3d)", "hv_*")
        return Family("image (SD / FLUX / Qwen-Image)", "VAE", "diffusers", "flux_* / qwen_image_*")
    if _starts(keys, "encoder.down.0.block.", "decoder.up.0.block."):
        z = _latent_channels(tensors)
        name = {16: "FLUX.1", 32: "FLUX.2", 4: "Stable Diffusion"}.get(z or 0, "image")
        return Family(
            name,
            "VAE",
            "original (ldm)",
            "flux_kontext_*" if z == 16 else "flux_2_*" if z == 32 else "-",
        )
    # -- text encoders -------------------------------------------------------------------
    if _has(keys, "vision_tower.") and _has(keys, "language_model."):
        return Family(
            "LLaVA-LLaMA-3 (HunyuanVideo text encoder 1)", "text encoder", "transformers", "hv_*"
        )
    if _starts(keys, "visual.blocks.", "model.visual.") or (
        _has(keys, "visual.blocks.") and _has(keys, "model.layers.")
    ):
        return Family(
            "Qwen2.5-VL (Qwen-Image / HunyuanVideo 1.5 text encoder)",
            "text encoder",
            "transformers",
            "qwen_image_* / hv_1_5_*",
        )
    if _has(keys, ".self_attn.q_norm.") and _has(keys, "layers."):
        return Family(
            "Qwen3 (FLUX.2 klein / Z-Image text encoder)",
            "text encoder",
            "transformers",
            "flux_2_* / zimage_*",
        )
    if _starts(keys, "text_model.encoder.layers.", "text_model.embeddings."):
        return Family(
            "CLIP-L text model (HunyuanVideo / FLUX text encoder 2)",
            "text encoder",
            "transformers",
            "hv_* / flux_*",
        )
    if _starts(keys, "model.layers.", "layers.") and _has(keys, "embed_tokens"):
        return Family("LLaMA-style language model", "text encoder", "transformers", "-")
    return None


def _latent_channels(tensors: Mapping[str, object]) -> int | None:
    meta = tensors.get("decoder.conv_in.weight")
    shape = getattr(meta, "shape", None)
    return int(shape[1]) if shape and len(shape) >= 2 else None
