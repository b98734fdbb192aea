"""Per-file checks: each model file against the role its flag gives it."""

from __future__ import annotations

from pathlib import Path

from wantui.core.finding import Finding
from wantui.core.findings import emit
from wantui.core.modelchecks.refs import (
    ROLE_CATALOG,
    ModelRef,
    describe,
    download_fix,
    model_at,
)
from wantui.core.models import (
    ModelInfo,
    eaten_backslashes,
    looks_like_windows_path,
)


def file_findings(ref: ModelRef) -> list[Finding]:
    """One model file against the role its flag gives it (missing, wrong kind, damaged)."""
    info = ref.info
    role = ref.role
    wrong_catalog = ROLE_CATALOG[role][0]
    steps = (ref.step,)
    if info.kind == "unknown" and info.details.get("reason") == "no such file":
        eaten = eaten_backslashes(ref.value)
        return [
            emit(
                "model-file-missing",
                **model_at(ref),
                catalog=wrong_catalog,
                text={
                    "value": ref.value,
                    "eaten_hint": " (a Windows path without its backslashes?)" if eaten else "",
                    "windows": " It is a Windows path: on this machine, give the file's path"
                    " here (over SSH the models live on the remote box)."
                    if looks_like_windows_path(ref.value)
                    else "",
                    "eaten": f" {eaten}" if eaten else "",
                },
                steps=steps,
                fixes=download_fix(role, ref),
            )
        ]
    if info.details.get("unreadable"):
        # a folder, a FIFO, a symlink loop, no permission: musubi cannot open it either
        return [
            emit(
                "model-file-unreadable",
                **model_at(ref),
                catalog=wrong_catalog,
                text={"value": ref.value, "reason": str(info.details.get("reason"))},
                steps=steps,
            )
        ]
    if info.kind == "corrupt":
        return [
            emit(
                "model-file-corrupt",
                **model_at(ref),
                text={"reason": str(info.details.get("reason"))},
                steps=steps,
                fixes=download_fix(role, ref),
            )
        ]
    if role == "dit":
        return _dit_file(ref)
    storage = _storage_problems(info)
    if storage and info.kind in ("wan-vae", "t5", "clip"):
        # the right model, stored in a way musubi's loader does not read
        return [
            emit(
                "model-file-unloadable",
                **model_at(ref),
                catalog=wrong_catalog,
                text={"summary": info.summary(), "problems": "; ".join(storage)},
                steps=steps,
                fixes=download_fix(role, ref),
            )
        ]
    if role == "vae":
        if info.kind != "wan-vae":
            return [
                emit(
                    "vae-not-a-vae",
                    **model_at(ref),
                    text={"what": describe(info)},
                    steps=steps,
                    fixes=download_fix("vae", ref),
                )
            ]
        if info.details.get("version") != "2.1" or info.details.get("layout") != "wan":
            why = (
                "the Wan2.2 TI2V-5B VAE (z_dim 48); Wan2.1 and Wan2.2 14B both use the Wan2.1 VAE"
                if info.details.get("version") == "2.2-5B"
                else f"a VAE in the {info.details.get('layout')} layout, version {info.details.get('version')}"
            )
            return [
                emit(
                    "vae-wrong-version",
                    **model_at(ref),
                    text={"why": why},
                    steps=steps,
                    fixes=download_fix("vae", ref),
                )
            ]
        return []
    if role == "t5":
        layout = info.details.get("layout")
        if info.kind == "t5" and layout == "wan" and info.notes:
            return [_t5_wrong_size(ref)]
        if info.kind != "t5" or layout != "wan" or info.notes:
            what = (
                "the HF/ComfyUI umt5-xxl layout (encoder.block.N...)"
                if layout == "hf-umt5"
                else describe(info)
            )
            return [
                emit(
                    "t5-wrong-layout",
                    **model_at(ref),
                    text={"what": what},
                    steps=steps,
                    fixes=download_fix("t5", ref),
                )
            ]
        return []
    if role == "clip":
        if info.kind != "clip" or info.details.get("variant") != "wan-xlm-roberta-vit-h":
            return [
                emit(
                    "clip-wrong-file",
                    **model_at(ref),
                    text={"what": describe(info)},
                    steps=steps,
                    fixes=download_fix("clip", ref),
                )
            ]
    return []


# musubi-tuner's T5Encoder: umt5-xxl, encoder only (wan/modules/t5.py)
T5_SHAPE = {"vocab": 256384, "dim": 4096, "blocks": 24}
T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"  # the advice names it (rules/t5-wrong-size.yaml)


def _t5_wrong_size(ref: ModelRef) -> Finding:
    """The Wan key layout with other sizes: a smaller T5 or a damaged copy. The keys match,
    so the strict load fails on sizes, not on missing keys; and when the file already has
    the right file's name, downloading "the right file" is not advice."""
    d = ref.info.details
    wrong = [f"{k} {d.get(k)} (expected {v})" for k, v in T5_SHAPE.items() if d.get(k) != v] or [
        f"{k} {d.get(k)}" for k in T5_SHAPE
    ]
    return emit(
        "t5-wrong-size",
        **model_at(ref),
        text={
            "sizes": ", ".join(wrong),
            "vocab": str(d.get("vocab")),
            "dim": str(d.get("dim")),
            "same_name": "yes" if ref.path.name == T5_FILE else "",
        },
        steps=(ref.step,),
        # the download would land on the very file the user has: only when it would not
        fixes=[] if ref.path.name == T5_FILE else download_fix("t5", ref),
    )


def _storage_problems(info: ModelInfo) -> list[str]:
    """How the file is stored, as musubi's VAE/T5/CLIP loaders see it."""
    d = info.details
    out = []
    if d.get("extension_mismatch"):
        out.append(
            f"it is a {info.format} file with a {Path(info.path).suffix} name, and musubi picks"
            " the loader from the extension"
        )
    if d.get("nested_under"):
        out.append(
            f"its tensors sit under {d['nested_under']!r} in the checkpoint, and musubi loads"
            " the top level (strict: 'Missing key(s) in state_dict')"
        )
    if d.get("key_prefix"):
        out.append(
            f"every key starts with {d['key_prefix']!r}, which musubi's strict load does not"
            " strip ('Missing key(s) in state_dict')"
        )
    return out


def _dit_file(ref: ModelRef) -> list[Finding]:
    info = ref.info
    d = info.details
    if info.kind != "wan-dit":
        return [emit("dit-not-a-dit", **model_at(ref), text={"what": describe(info)})]
    problems = []
    if info.format != "safetensors":
        problems.append(f"it is a {info.format} file; musubi reads --dit as safetensors only")
    if info.dtype == "fp8_scaled":
        problems.append("it is a ComfyUI fp8_scaled checkpoint, unsupported even with --fp8_scaled")
    if d.get("prefix") not in ("", "model.diffusion_model."):
        problems.append(
            f"its keys start with {d.get('prefix')!r}; musubi finds the dtype only without a prefix"
            " or with 'model.diffusion_model.' ('Could not find the dtype in the model weights')"
        )
    if d.get("extra_tensors"):
        problems.append(
            f"it also holds {d['extra_tensors']} tensors that are not part of the DiT (a bundled"
            " checkpoint); the strict load fails with 'Unexpected key(s)'"
        )
    if d.get("dtype_key_in_file") is False:
        problems.append(
            "it is one shard of a set and lacks blocks.0.cross_attn.k.weight, where musubi reads"
            " the dtype ('Could not find the dtype in the model weights'); name the shard that"
            " holds it"
        )
    if d.get("params") == "5B":
        problems.append("it is the Wan2.2 TI2V-5B model, which musubi-tuner does not train")
    elif not d.get("tasks"):
        problems.append(f"its shape matches no Wan task ({d.get('params')}, {d.get('family')})")
    if not problems:
        return []
    return [
        emit(
            "dit-unusable",
            **model_at(ref),
            text={"summary": info.summary(), "problems": "; ".join(problems)},
        )
    ]
