"""Per-file checks: each model file against the role its flag gives it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from wantui.core.finding import Finding, Severity
from wantui.core.models import (
    ModelInfo,
    eaten_backslashes,
    looks_like_windows_path,
)

if TYPE_CHECKING:
    pass
from wantui.core.modelchecks.refs import (
    ROLE_CATALOG,
    ModelRef,
    describe,
    download_fix,
    model_finding,
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
            model_finding(
                "model-file-missing",
                wrong_catalog,
                Severity.ERROR,
                f"{ref.flag} names a file that does not exist"
                + (" (a Windows path without its backslashes?)" if eaten else ""),
                f"{ref.flag} {ref.value}: no such file (resolved from the project folder: {ref.path})."
                + (
                    " It is a Windows path: on this machine, give the file's path here (over"
                    " SSH the models live on the remote box)."
                    if looks_like_windows_path(ref.value)
                    else ""
                )
                + (f" {eaten}" if eaten else ""),
                ref,
                steps=steps,
                fixes=download_fix(role, ref),
                advice=["Quote Windows paths when you paste a command into bash."] if eaten else [],
                priority=90,
            )
        ]
    if info.details.get("unreadable"):
        # a folder, a FIFO, a symlink loop, no permission: musubi cannot open it either
        return [
            model_finding(
                "model-file-unreadable",
                wrong_catalog,
                Severity.ERROR,
                f"{ref.flag} names something that cannot be read as a file",
                f"{ref.flag} {ref.value}: {info.details.get('reason')} ({ref.path}).",
                ref,
                steps=steps,
                advice=[f"Point {ref.flag} at the model file itself."],
                priority=90,
            )
        ]
    if info.kind == "corrupt":
        return [
            model_finding(
                "model-file-corrupt",
                "corrupt-model-file",
                Severity.ERROR,
                f"{ref.flag} file is damaged or incomplete",
                f"{ref.path}: {info.details.get('reason')}. Loading it fails with a safetensors"
                " header error or a truncated read.",
                ref,
                steps=steps,
                fixes=download_fix(role, ref),
                advice=["Re-download it (an interrupted download is the usual cause)."],
                priority=95,
            )
        ]
    if role == "dit":
        return _dit_file(ref)
    storage = _storage_problems(info)
    if storage and info.kind in ("wan-vae", "t5", "clip"):
        # the right model, stored in a way musubi's loader does not read
        return [
            model_finding(
                "model-file-unloadable",
                wrong_catalog,
                Severity.ERROR,
                f"{ref.flag} holds the right model but musubi cannot load it as stored",
                f"{ref.path} ({info.summary()}): " + "; ".join(storage) + ".",
                ref,
                steps=steps,
                fixes=download_fix(role, ref),
                priority=86,
            )
        ]
    if role == "vae":
        if info.kind != "wan-vae":
            return [
                model_finding(
                    "vae-not-a-vae",
                    "vae-wrong-file",
                    Severity.ERROR,
                    f"{ref.flag} is not a Wan VAE",
                    f"{ref.path} is a {describe(info)}. Loading fails with 'Error(s) in loading state_dict"
                    " for WanVAE_' (.pth) or 'Cannot copy out of meta tensor' (.safetensors).",
                    ref,
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
                model_finding(
                    "vae-wrong-version",
                    "vae-wrong-file",
                    Severity.ERROR,
                    f"{ref.flag} is not the Wan2.1 VAE",
                    f"{ref.path} is {why}. Expect 'size mismatch for conv1.weight' or"
                    " 'Cannot copy out of meta tensor'.",
                    ref,
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
                model_finding(
                    "t5-wrong-layout",
                    "wrong-t5-encoder",
                    Severity.ERROR,
                    f"{ref.flag} is not the Wan T5 encoder",
                    f"{ref.path} is {what}. musubi's strict load fails: 'Error(s) in loading"
                    ' state_dict for T5Encoder: Missing key(s) in state_dict: "token_embedding.weight"\'.',
                    ref,
                    steps=steps,
                    fixes=download_fix("t5", ref),
                    advice=[
                        "The right file is models_t5_umt5-xxl-enc-bf16.pth from Wan-AI/Wan2.1-I2V-14B-720P."
                    ],
                    priority=85,
                )
            ]
        return []
    if role == "clip":
        if info.kind != "clip" or info.details.get("variant") != "wan-xlm-roberta-vit-h":
            return [
                model_finding(
                    "clip-wrong-file",
                    "wrong-clip-model",
                    Severity.ERROR,
                    f"{ref.flag} is not the Wan-AI CLIP",
                    f"{ref.path} is a {describe(info)}. musubi's strict load fails: 'Error(s) in loading"
                    " state_dict for XLMRobertaCLIP'.",
                    ref,
                    steps=steps,
                    fixes=download_fix("clip", ref),
                )
            ]
    return []


# musubi-tuner's T5Encoder: umt5-xxl, encoder only (wan/modules/t5.py)
T5_SHAPE = {"vocab": 256384, "dim": 4096, "blocks": 24}
T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
T5_REPO = "Wan-AI/Wan2.1-I2V-14B-720P"


def _t5_wrong_size(ref: ModelRef) -> Finding:
    """The Wan key layout with other sizes: a smaller T5 or a damaged copy. The keys match,
    so the strict load fails on sizes, not on missing keys; and when the file already has
    the right file's name, downloading "the right file" is not advice."""
    d = ref.info.details
    wrong = [f"{k} {d.get(k)} (expected {v})" for k, v in T5_SHAPE.items() if d.get(k) != v] or [
        f"{k} {d.get(k)}" for k in T5_SHAPE
    ]
    got = d.get("vocab"), d.get("dim")
    same_name = ref.path.name == T5_FILE
    if same_name:
        advice = [
            f"The file is named {T5_FILE} but does not hold that model (another size, or"
            " another model saved under its name). Move it aside, then download the real one:"
            f" `wantui download t5` ({T5_FILE} from {T5_REPO}, about 11 GB, vocab 256384,"
            " dim 4096, 24 blocks).",
        ]
    else:
        advice = [
            f"Use {T5_FILE} from {T5_REPO} (umt5-xxl: vocab 256384, dim 4096, 24 blocks);"
            " the same file serves Wan2.1 and Wan2.2."
        ]
    return model_finding(
        "t5-wrong-size",
        "wrong-t5-encoder",
        Severity.ERROR,
        f"{ref.flag} has the Wan T5 layout but the wrong sizes",
        f"{ref.path} has the Wan T5 key names, but {', '.join(wrong)}: it is not umt5-xxl."
        " musubi's strict load fails with 'Error(s) in loading state_dict for T5Encoder:"
        f" size mismatch for token_embedding.weight: copying a param with shape"
        f" torch.Size([{got[0]}, {got[1]}]) from checkpoint, the shape in current model is"
        " torch.Size([256384, 4096])'.",
        ref,
        steps=(ref.step,),
        # the download would land on the very file the user has: only when it would not
        fixes=[] if same_name else download_fix("t5", ref),
        advice=advice,
        priority=85,
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
        return [
            model_finding(
                "dit-not-a-dit",
                "dit-wrong-file",
                Severity.ERROR,
                f"{ref.flag} is not a Wan DiT",
                f"{ref.path} is a {describe(info)}. musubi fails with 'Could not find the dtype in the"
                " model weights' (or a header error for a non-safetensors file).",
                ref,
                priority=90,
            )
        ]
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
        model_finding(
            "dit-unusable",
            "dit-wrong-file",
            Severity.ERROR,
            f"{ref.flag} cannot be trained by musubi-tuner",
            f"{ref.path} ({info.summary()}): " + "; ".join(problems) + ".",
            ref,
            advice=["Use the bf16 or fp16 .safetensors DiT (Comfy-Org repackaged files work)."],
            priority=88,
        )
    ]
