"""Preflight: everything that can be predicted before the pipeline starts.

Three sources, one list of Findings:

1. the inputs checks (dataset TOML and the three command lines: ``check_project`` from
   :mod:`wantui.core.args`, or the dataset check alone while that is not available),
2. the model files each step names (``--dit``, ``--dit_high_noise``, ``--vae``, ``--t5``,
   ``--clip``), identified from their headers against ``--task`` and the precision and
   fp8 flags, plus the keys of existing latent caches against ``--task``,
3. the environment probe's report (:mod:`wantui.core.probe`), when one is given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wantui.core.finding import Finding, Location, Severity, sort_findings
from wantui.core.findings import make_finding
from wantui.core.fixactions import FixAction
from wantui.core.models import (
    ModelInfo,
    inspect_file,
    looks_like_windows_path,
    read_safetensors_header,
)
from wantui.core.probe.flags import flag_value, has_flag, int_flag

if TYPE_CHECKING:
    from wantui.core.probe import ProbeResult
    from wantui.core.project import Project

log = logging.getLogger(__name__)

# (step, flag) -> role. Training reads --vae/--t5/--clip only for --sample_prompts, but a
# wrong file there still fails, so they are checked wherever they are given.
MODEL_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("train", "--dit", "dit"),
    ("train", "--dit_high_noise", "dit"),
    ("latents", "--vae", "vae"),
    ("train", "--vae", "vae"),
    ("te", "--t5", "t5"),
    ("train", "--t5", "t5"),
    ("latents", "--clip", "clip"),
    ("train", "--clip", "clip"),
)
# role -> (catalog id for a wrong file, hub catalog name of the right file)
ROLE_CATALOG = {
    "dit": ("dit-wrong-file", None),
    "vae": ("vae-wrong-file", "vae"),
    "t5": ("wrong-t5-encoder", "t5"),
    "clip": ("wrong-clip-model", "clip"),
}
WAN22_TASKS = ("t2v-A14B", "i2v-A14B")
WAN21_CLIP_TASKS = ("i2v-14B", "flf2v-14B")  # Wan2.1 I2V: latents need --clip
DEFAULT_TASK = "t2v-14B"


@dataclass
class ModelRef:
    """One model file named by a step: where, which flag, what it is."""

    step: str
    flag: str
    role: str
    value: str  # as written on the command line
    path: Path  # resolved against the project folder
    info: ModelInfo


def project_models(project: Project) -> list[ModelRef]:
    """Inspect every model file named in the enabled steps (each file read once)."""
    seen: dict[Path, ModelInfo] = {}
    refs: list[ModelRef] = []
    for step, flag, role in MODEL_FLAGS:
        st = project.steps.get(step)
        if st is None or not st.enabled:
            continue
        value = flag_value(st.args, flag)
        if not value:
            continue
        path = project.resolve(value)
        if path not in seen:
            seen[path] = inspect_file(path)
        refs.append(ModelRef(step, flag, role, value, path, seen[path]))
    return refs


def _task(project: Project) -> str:
    st = project.steps.get("train")
    return (flag_value(st.args, "--task") if st else None) or DEFAULT_TASK


def _args(project: Project, step: str) -> list[str]:
    st = project.steps.get(step)
    return list(st.args) if st is not None and st.enabled else []


def _mf(
    rule: str,
    catalog: str,
    severity: Severity,
    title: str,
    message: str,
    ref: ModelRef | None = None,
    *,
    steps: tuple[str, ...] = ("train",),
    fixes: list[FixAction] | None = None,
    advice: list[str] | None = None,
    priority: int = 80,
) -> Finding:
    captures: dict[str, str] = {}
    if ref is not None:
        captures = {
            "path": str(ref.path),
            "flag": ref.flag,
            "step": ref.step,
            "kind": ref.info.kind,
        }
    return make_finding(
        rule,
        catalog,
        severity,
        title,
        message,
        origin="model",
        location=Location(str(ref.path)) if ref is not None else None,
        fixes=fixes,
        advice=advice,
        captures=captures,
        steps=steps,
        priority=priority,
    )


def _download(role: str, ref: ModelRef) -> list[FixAction]:
    name = ROLE_CATALOG[role][1]
    if name is None:
        return []
    return [
        FixAction(
            "download",
            {"name": name, "step": ref.step, "flag": ref.flag},
            label=f"Download the right {role.upper()} and point {ref.flag} at it",
        )
    ]


def _what(info: ModelInfo) -> str:
    if info.kind in ("unknown", "corrupt"):
        return f"{info.kind} ({info.details.get('reason', '')})"
    return info.summary()


# -- per-file checks ---------------------------------------------------------------------


def _file_findings(ref: ModelRef) -> list[Finding]:
    info = ref.info
    role = ref.role
    wrong_catalog = ROLE_CATALOG[role][0]
    steps = (ref.step,)
    if info.kind == "unknown" and info.details.get("reason") == "no such file":
        return [
            _mf(
                "model-file-missing",
                wrong_catalog,
                Severity.ERROR,
                f"{ref.flag} names a file that does not exist",
                f"{ref.flag} {ref.value}: no such file (resolved from the project folder: {ref.path})."
                + (
                    " It is a Windows path: on this machine, give the file's path here (over"
                    " SSH the models live on the remote box)."
                    if looks_like_windows_path(ref.value)
                    else ""
                ),
                ref,
                steps=steps,
                fixes=_download(role, ref),
                priority=90,
            )
        ]
    if info.details.get("unreadable"):
        # a folder, a FIFO, a symlink loop, no permission: musubi cannot open it either
        return [
            _mf(
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
            _mf(
                "model-file-corrupt",
                "corrupt-model-file",
                Severity.ERROR,
                f"{ref.flag} file is damaged or incomplete",
                f"{ref.path}: {info.details.get('reason')}. Loading it fails with a safetensors"
                " header error or a truncated read.",
                ref,
                steps=steps,
                fixes=_download(role, ref),
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
            _mf(
                "model-file-unloadable",
                wrong_catalog,
                Severity.ERROR,
                f"{ref.flag} holds the right model but musubi cannot load it as stored",
                f"{ref.path} ({info.summary()}): " + "; ".join(storage) + ".",
                ref,
                steps=steps,
                fixes=_download(role, ref),
                priority=86,
            )
        ]
    if role == "vae":
        if info.kind != "wan-vae":
            return [
                _mf(
                    "vae-not-a-vae",
                    "vae-wrong-file",
                    Severity.ERROR,
                    f"{ref.flag} is not a Wan VAE",
                    f"{ref.path} is a {_what(info)}. Loading fails with 'Error(s) in loading state_dict"
                    " for WanVAE_' (.pth) or 'Cannot copy out of meta tensor' (.safetensors).",
                    ref,
                    steps=steps,
                    fixes=_download("vae", ref),
                )
            ]
        if info.details.get("version") != "2.1" or info.details.get("layout") != "wan":
            why = (
                "the Wan2.2 TI2V-5B VAE (z_dim 48); Wan2.1 and Wan2.2 14B both use the Wan2.1 VAE"
                if info.details.get("version") == "2.2-5B"
                else f"a VAE in the {info.details.get('layout')} layout, version {info.details.get('version')}"
            )
            return [
                _mf(
                    "vae-wrong-version",
                    "vae-wrong-file",
                    Severity.ERROR,
                    f"{ref.flag} is not the Wan2.1 VAE",
                    f"{ref.path} is {why}. Expect 'size mismatch for conv1.weight' or"
                    " 'Cannot copy out of meta tensor'.",
                    ref,
                    steps=steps,
                    fixes=_download("vae", ref),
                )
            ]
        return []
    if role == "t5":
        layout = info.details.get("layout")
        if info.kind != "t5" or layout != "wan" or info.notes:
            what = (
                "the HF/ComfyUI umt5-xxl layout (encoder.block.N...)"
                if layout == "hf-umt5"
                else _what(info)
            )
            return [
                _mf(
                    "t5-wrong-layout",
                    "wrong-t5-encoder",
                    Severity.ERROR,
                    f"{ref.flag} is not the Wan T5 encoder",
                    f"{ref.path} is {what}. musubi's strict load fails: 'Error(s) in loading"
                    ' state_dict for T5Encoder: Missing key(s) in state_dict: "token_embedding.weight"\'.',
                    ref,
                    steps=steps,
                    fixes=_download("t5", ref),
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
                _mf(
                    "clip-wrong-file",
                    "wrong-clip-model",
                    Severity.ERROR,
                    f"{ref.flag} is not the Wan-AI CLIP",
                    f"{ref.path} is a {_what(info)}. musubi's strict load fails: 'Error(s) in loading"
                    " state_dict for XLMRobertaCLIP'.",
                    ref,
                    steps=steps,
                    fixes=_download("clip", ref),
                )
            ]
    return []


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
            _mf(
                "dit-not-a-dit",
                "dit-wrong-file",
                Severity.ERROR,
                f"{ref.flag} is not a Wan DiT",
                f"{ref.path} is a {_what(info)}. musubi fails with 'Could not find the dtype in the"
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
        _mf(
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


# -- cross checks: DiT vs flags -------------------------------------------------------------


def _dit_findings(project: Project, refs: list[ModelRef]) -> list[Finding]:
    out: list[Finding] = []
    train = _args(project, "train")
    task = _task(project)
    task_given = has_flag(train, "--task")
    dits = [r for r in refs if r.role == "dit" and r.info.kind == "wan-dit"]
    for ref in dits:
        d = ref.info.details
        tasks = d.get("tasks") or []
        if tasks and task not in tasks:
            want = d.get("suggested_task") or tasks[0]
            out.append(
                _mf(
                    "dit-task-mismatch",
                    "dit-task-mismatch",
                    Severity.ERROR,
                    f"{ref.flag} is a {d.get('params')} {d.get('family')} model but --task is {task}",
                    f"{ref.path} is {ref.info.summary()} (in_dim {d.get('in_dim')}, dim {d.get('dim')},"
                    f" {d.get('layers')} blocks); --task {task}{'' if task_given else ' (the default)'}"
                    f" builds another WanModel, and loading fails with 'Error(s) in loading state_dict"
                    f" for WanModel' (size mismatch / missing keys). The file fits: {', '.join(tasks)}.",
                    ref,
                    fixes=[
                        FixAction(
                            "flag_set" if task_given else "flag_add",
                            {"step": "train", "flag": "--task", "value": want},
                            label=f"Set --task {want}",
                        )
                    ],
                    advice=["Or point --dit at a file made for this task."],
                    priority=85,
                )
            )
    low = next((r for r in dits if r.flag == "--dit"), None)
    high = next((r for r in dits if r.flag == "--dit_high_noise"), None)
    if low and high:
        a, b = low.info.details, high.info.details
        if (a.get("params"), a.get("family"), a.get("image_keys")) != (
            b.get("params"),
            b.get("family"),
            b.get("image_keys"),
        ):
            out.append(
                _mf(
                    "dit-pair-mismatch",
                    "dit-task-mismatch",
                    Severity.ERROR,
                    "--dit and --dit_high_noise are different models",
                    f"--dit is {low.info.summary()}, --dit_high_noise is {high.info.summary()}; the"
                    " high-noise weights are swapped into the same WanModel and cannot fit both.",
                    high,
                    priority=84,
                )
            )
    # Wan2.2 weights under a Wan2.1 task
    family = (low or high).info.details.get("family") if (low or high) else None
    wan22_task = "i2v-A14B" if family == "i2v" else "t2v-A14B"
    if has_flag(train, "--dit_high_noise") and task not in WAN22_TASKS:
        boundary = has_flag(train, "--timestep_boundary")
        out.append(
            _mf(
                "wan22-task-high-noise",
                "wan22-task-not-set",
                Severity.ERROR,
                f"--dit_high_noise with the Wan2.1 task {task}",
                f"--task {task}{'' if task_given else ' (the default)'} is a Wan2.1 config: Wan2.2 is"
                " selected only by --task t2v-A14B or i2v-A14B, not by --dit_high_noise."
                + (
                    ""
                    if boundary
                    else " Without --timestep_boundary training stops with 'timestep_boundary is not"
                    " specified for high noise model'."
                ),
                high or low,
                fixes=[
                    FixAction(
                        "flag_set" if task_given else "flag_add",
                        {"step": "train", "flag": "--task", "value": wan22_task},
                        label=f"Set --task {wan22_task}",
                    )
                ],
                priority=83,
            )
        )
    elif low and low.info.details.get("wan_version") == "2.2" and task not in WAN22_TASKS:
        if task in (low.info.details.get("tasks") or []):  # structurally fine, silently wrong
            out.append(
                _mf(
                    "wan22-task-default",
                    "wan22-task-not-set",
                    Severity.WARNING,
                    f"Wan2.2 weights with the Wan2.1 task {task}",
                    f"{low.path} looks like Wan2.2 (file name or metadata) but --task {task}"
                    f"{'' if task_given else ' (the default)'} is a Wan2.1 config: the weights load,"
                    " then train with the Wan2.1 time embedding and no expert boundary.",
                    low,
                    fixes=[
                        FixAction(
                            "flag_set" if task_given else "flag_add",
                            {"step": "train", "flag": "--task", "value": wan22_task},
                            label=f"Set --task {wan22_task}",
                        )
                    ],
                    priority=60,
                )
            )
    if low is not None:
        out.extend(_precision_findings(project, low))
        out.extend(_blockswap_findings(project, low))
    return out


def _precision_findings(project: Project, ref: ModelRef) -> list[Finding]:
    out: list[Finding] = []
    train = _args(project, "train")
    st = project.steps.get("train")
    launch = list(st.launch_args) if st is not None and st.launcher == "accelerate" else []
    dtype = ref.info.dtype
    mp = flag_value(train, "--mixed_precision")
    if dtype in ("bf16", "fp16") and mp not in (dtype, "no"):
        launch_mp = flag_value(launch, "--mixed_precision")
        why = (
            f"only accelerate's --mixed_precision {launch_mp} is set; musubi checks the script's own"
            " --mixed_precision, which is unset"
            if mp is None and launch_mp
            else f"the script's --mixed_precision is {mp or 'unset'}"
        )
        fixes = [
            FixAction(
                "flag_set" if mp is not None else "flag_add",
                {"step": "train", "flag": "--mixed_precision", "value": dtype},
                label=f"Set the script's --mixed_precision {dtype}",
            )
        ]
        if launch_mp is not None and launch_mp != dtype:
            fixes.append(
                FixAction(
                    "flag_set",
                    {"step": "launch", "flag": "--mixed_precision", "value": dtype},
                    label=f"Set accelerate's --mixed_precision {dtype}",
                )
            )
        out.append(
            _mf(
                "precision-mismatch",
                "precision-mismatch",
                Severity.ERROR,
                f"The DiT is {dtype} but {why.split(';')[0]}",
                f"{ref.path} stores {dtype} weights and {why}: training stops with 'AssertionError:"
                f" DiT weights are in {dtype}, mixed precision must be {dtype} or no'.",
                ref,
                fixes=fixes,
                priority=82,
            )
        )
    fp8_base = has_flag(train, "--fp8_base")
    fp8_scaled = has_flag(train, "--fp8_scaled")
    if dtype == "fp8_e4m3fn" and fp8_scaled:
        out.append(
            _mf(
                "fp8-scaled-on-fp8",
                "fp8-scaled-on-fp8-weights",
                Severity.ERROR,
                "--fp8_scaled on a DiT that is already fp8",
                f"{ref.path} is stored in fp8_e4m3fn: training stops with 'DiT weights is already in"
                " fp8 format, cannot scale to fp8'.",
                ref,
                fixes=[
                    FixAction(
                        "flag_remove",
                        {"step": "train", "flag": "--fp8_scaled"},
                        label="Remove --fp8_scaled (keep --fp8_base)",
                    )
                ],
                priority=80,
            )
        )
    elif fp8_scaled and not fp8_base:
        out.append(
            _mf(
                "fp8-scaled-without-base",
                "fp8-scaled-on-fp8-weights",
                Severity.ERROR,
                "--fp8_scaled without --fp8_base",
                "Training stops with 'fp8_scaled requires fp8_base'.",
                ref,
                fixes=[
                    FixAction(
                        "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                    )
                ],
                priority=80,
            )
        )
    if dtype == "fp8_e4m3fn" and not fp8_base:
        out.append(
            _mf(
                "fp8-file-upcast",
                "dtype-mismatch-runtime",
                Severity.WARNING,
                "An fp8 DiT without --fp8_base is up-cast on load",
                f"{ref.path} is fp8_e4m3fn; without --fp8_base musubi casts it to bf16/fp16 while"
                " loading ('Casting model weights to ...'), which doubles its memory.",
                ref,
                fixes=[
                    FixAction(
                        "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                    )
                ],
                priority=40,
            )
        )
    return out


def _blockswap_findings(project: Project, ref: ModelRef) -> list[Finding]:
    train = _args(project, "train")
    swap = int_flag(train, "--blocks_to_swap")
    layers = ref.info.details.get("layers") or 0
    out: list[Finding] = []
    if swap is not None and layers and swap > layers - 1:
        out.append(
            _mf(
                "blockswap-too-many",
                "blockswap-with-offload",
                Severity.ERROR,
                f"--blocks_to_swap {swap} but the DiT has {layers} blocks",
                f"At most {layers - 1} blocks can be swapped for this {ref.info.details.get('params')}"
                f" model: training stops with 'Cannot swap more than {layers - 1} blocks'.",
                ref,
                fixes=[
                    FixAction(
                        "flag_set",
                        {"step": "train", "flag": "--blocks_to_swap", "value": str(layers - 1)},
                        label=f"Swap {layers - 1} blocks",
                    )
                ],
                priority=75,
            )
        )
    if swap and has_flag(train, "--offload_inactive_dit"):
        out.append(
            _mf(
                "blockswap-and-offload",
                "blockswap-with-offload",
                Severity.ERROR,
                "--blocks_to_swap together with --offload_inactive_dit",
                "Training stops with 'Block swap is not supported with offloading inactive DiT'.",
                ref,
                fixes=[
                    FixAction(
                        "flag_remove",
                        {"step": "train", "flag": "--offload_inactive_dit"},
                        label="Keep block swap, drop --offload_inactive_dit",
                    )
                ],
                priority=75,
            )
        )
    return out


# -- CLIP and caches vs the task -----------------------------------------------------------------


def _clip_and_cache_findings(project: Project, refs: list[ModelRef]) -> list[Finding]:
    out: list[Finding] = []
    if "train" not in project.steps:
        return out
    task = _task(project)
    latents = _args(project, "latents")
    i2v = "i2v" in task or "flf2v" in task
    needs_clip = task in WAN21_CLIP_TASKS
    latents_on = "latents" in project.steps and project.steps["latents"].enabled
    if latents_on and needs_clip and not has_flag(latents, "--clip"):
        out.append(
            _mf(
                "clip-missing-for-i2v",
                "wrong-clip-model",
                Severity.ERROR,
                f"--task {task} needs latents cached with --clip",
                "Wan2.1 I2V training reads CLIP image features from the latent caches; caching"
                " without --clip makes training stop at the first step with KeyError: 'clip'.",
                steps=("latents", "train"),
                fixes=[
                    FixAction(
                        "download",
                        {"name": "clip", "step": "latents", "flag": "--clip"},
                        label="Download the Wan-AI CLIP and add --clip to latent caching",
                    )
                ],
                priority=78,
            )
        )
    elif latents_on and i2v and not (has_flag(latents, "--i2v") or has_flag(latents, "--clip")):
        out.append(
            _mf(
                "i2v-latents-flag",
                "i2v-cache-mismatch",
                Severity.ERROR,
                f"--task {task} needs latents cached with --i2v",
                "I2V training reads the image latents from the caches; caching without --i2v makes"
                " training stop at the first step with KeyError: 'latents_image'.",
                steps=("latents", "train"),
                fixes=[
                    FixAction(
                        "flag_add",
                        {"step": "latents", "flag": "--i2v"},
                        label="Add --i2v to latent caching",
                    ),
                    FixAction("rerun_step", {"step": "latents"}, label="Cache the latents again"),
                ],
                priority=78,
            )
        )
    if task in WAN22_TASKS:
        for ref in refs:
            if ref.role == "clip":
                out.append(
                    _mf(
                        "clip-unused",
                        "wrong-clip-model",
                        Severity.INFO,
                        "CLIP is not used by Wan2.2",
                        f"--task {task} does not read CLIP features; {ref.flag} only costs time and memory.",
                        ref,
                        steps=(ref.step,),
                        fixes=[
                            FixAction(
                                "flag_remove",
                                {"step": ref.step, "flag": "--clip"},
                                label="Drop --clip",
                            )
                        ],
                        priority=10,
                    )
                )
                break
    out.extend(_cache_key_findings(project, task))
    return out


def _cache_dirs(project: Project) -> list[Path]:
    """Cache folders of the project's datasets (cache_directory, else the media folder)."""
    path = project.dataset_config_path()
    if path is None or not path.is_file():
        return []
    try:
        from wantui.core.dataset import load_dataset_config

        cfg = load_dataset_config(path)
    except Exception:  # reported by the inputs checks; nothing to look at here
        return []
    dirs: list[Path] = []
    for entry in cfg.datasets:
        d = (
            entry.get("cache_directory")
            or entry.get("video_directory")
            or entry.get("image_directory")
        )
        if isinstance(d, str) and d:
            dirs.append(project.resolve(d) if not Path(d).is_absolute() else Path(d))
    return dirs


def _cache_key_findings(project: Project, task: str) -> list[Finding]:
    need: list[tuple[str, str]] = []  # (key prefix, what creates it)
    if "i2v" in task or "flf2v" in task:
        need.append(("latents_image_", "--i2v"))
    if task in WAN21_CLIP_TASKS:
        need.append(("clip_", "--clip"))
    if task.endswith("-FC"):
        need.append(("latents_control_", "control videos (control_directory)"))
    if not need:
        return []
    out: list[Finding] = []
    for d in _cache_dirs(project):
        try:
            caches = sorted(d.glob("*_wan.safetensors"))[:3]
        except OSError:
            continue
        for cache in caches:
            try:
                keys = read_safetensors_header(cache).tensors.keys()
            except Exception:
                continue  # a damaged cache is musubi's to rebuild
            lacking = [(p, how) for p, how in need if not any(k.startswith(p) for k in keys)]
            if lacking:
                names = ", ".join(p.rstrip("_") for p, _ in lacking)
                hows = ", ".join(how for _, how in lacking)
                out.append(
                    make_finding(
                        "i2v-cache-keys",
                        "i2v-cache-mismatch",
                        Severity.ERROR,
                        f"Latent caches were made for another task than {task}",
                        f"{cache.name} has no {names} tensors, which --task {task} reads:"
                        f" training stops at the first step with KeyError: '{lacking[0][0].rstrip('_')}'."
                        f" Cache again with {hows}.",
                        origin="model",
                        location=Location(str(cache)),
                        captures={"path": str(cache), "task": task},
                        fixes=[
                            FixAction(
                                "rerun_step", {"step": "latents"}, label="Cache the latents again"
                            )
                        ],
                        steps=("latents", "train"),
                        priority=77,
                    )
                )
                break  # one finding per cache folder
    return out


# -- the whole preflight ----------------------------------------------------------------------


def inputs_findings(project: Project) -> list[Finding]:
    """The dataset and argument checks (owned by the inputs area), degrading gracefully."""
    try:
        from wantui.core.args import check_project  # type: ignore[attr-defined]
    except ImportError:
        check_project = None
    if check_project is not None:
        return list(check_project(project))
    out: list[Finding] = []
    path = project.dataset_config_path()
    if path is not None:
        try:
            from wantui.core.dataset import check_dataset_config

            out.extend(check_dataset_config(path, project.cwd()))
        except ImportError:
            pass
    return out


def probe_paths(project: Project) -> list[str]:
    """Folders whose free space matters: the output folder and the cache folders."""
    paths: list[str] = []
    out_dir = flag_value(_args(project, "train"), "--output_dir")
    if out_dir:
        paths.append(out_dir)
    for d in _cache_dirs(project):
        if str(d) not in paths:
            paths.append(str(d))
    return paths


def model_findings(project: Project, refs: list[ModelRef] | None = None) -> list[Finding]:
    refs = project_models(project) if refs is None else refs
    out: list[Finding] = []
    for ref in refs:
        out.extend(_file_findings(ref))
    out.extend(_dit_findings(project, refs))
    out.extend(_clip_and_cache_findings(project, refs))
    return out


def preflight(project: Project, *, probe: ProbeResult | None = None) -> list[Finding]:
    """Every predictable failure of ``project``, ranked (root causes first)."""
    found = inputs_findings(project)
    refs = project_models(project)
    mine = model_findings(project, refs)
    if probe is not None:
        if probe.ok:
            from wantui.core.probe.runner import findings_from

            dit = next((r.info for r in refs if r.flag == "--dit"), None)
            checkout = str(project.resolve(project.musubi_dir)) if project.musubi_dir else None
            got, ok = findings_from(
                probe.data, probe.python, project=project, checkout=checkout, dit=dit
            )
            mine.extend(got)
            if ok:
                mine.extend(host_memory_findings(project, refs, probe.data))
        else:
            mine.extend(probe.findings)
    # a check both areas make (e.g. --fp8_scaled without --fp8_base) is reported once:
    # same catalog id and the same proposed change
    taken = {_same_key(f) for f in found}
    found.extend(f for f in mine if _same_key(f) not in taken)
    return sort_findings(found)


GiB = 1024**3
# the interpreter, torch, transformers and the data pipeline, besides the weights
HOST_OVERHEAD = 4 * GiB


def host_memory_findings(project: Project, refs: list[ModelRef], data: dict) -> list[Finding]:
    """host-oom: the weights a step holds in system RAM against the RAM the machine (or
    the container's memory limit) gives it. A rough estimate, hence a warning."""
    plat = data.get("platform") or {}
    limits = [
        v for v in (plat.get("ram_bytes"), plat.get("mem_limit_bytes")) if type(v) is int and v > 0
    ]
    if not limits:
        return []
    avail = min(limits)
    where = "the container's memory limit" if avail == plat.get("mem_limit_bytes") else "RAM"
    out: list[Finding] = []
    by_flag = {(r.step, r.flag): r for r in refs if r.info.size}
    t5 = by_flag.get(("te", "--t5"))
    if t5 is not None:
        # the T5 state dict is read whole into RAM (load_file / torch.load) before .to(cuda)
        need = t5.info.size + HOST_OVERHEAD
        if need > avail:
            out.append(
                _host_oom("te", need, avail, where, f"the T5 file ({_gb(t5.info.size)})", t5)
            )
    train = _args(project, "train")
    dit = by_flag.get(("train", "--dit"))
    if dit is not None:

        def resident(ref: ModelRef) -> int:
            # --fp8_base halves 16-bit weights; fp8 files are already that size
            halve = has_flag(train, "--fp8_base") and ref.info.dtype in ("bf16", "fp16", "fp32")
            return ref.info.size // (2 if halve else 1)

        parts: list[str] = []
        need = HOST_OVERHEAD
        if (int_flag(train, "--blocks_to_swap") or 0) > 0:
            # block swap loads the DiT to the CPU and keeps the swapped blocks there
            need += resident(dit)
            parts.append(f"the DiT loaded on the CPU for block swap ({_gb(resident(dit))})")
        high = by_flag.get(("train", "--dit_high_noise"))
        if high is not None and has_flag(train, "--offload_inactive_dit"):
            need += resident(high)
            parts.append(f"the inactive expert offloaded to RAM ({_gb(resident(high))})")
        if parts and need > avail:
            out.append(_host_oom("train", need, avail, where, " and ".join(parts), dit))
    return out


def _gb(n: int) -> str:
    return f"{n / GiB:.1f} GiB"


def _host_oom(step: str, need: int, avail: int, where: str, what: str, ref: ModelRef) -> Finding:
    return _mf(
        "host-ram-low",
        "host-oom",
        Severity.WARNING,
        f"The {step} step likely needs more system memory than {where} allows",
        f"About {_gb(need)} is needed ({what}, plus ~{_gb(HOST_OVERHEAD)} for Python, torch and"
        f" the data pipeline) and {where} is {_gb(avail)}: the kernel's OOM killer would end"
        " the step with SIGKILL ('Killed', exit -9) and no Python error. This is an estimate.",
        ref,
        steps=(step,),
        advice=[
            "Use a machine or container with more memory, or fewer --blocks_to_swap.",
            "Close other processes that hold memory (another training, a notebook).",
        ],
        priority=55,
    )


def _same_key(f: Finding) -> tuple[object, ...]:
    """Catalog id plus what the first fix changes (whatever action expresses it), or the
    steps concerned when there is no fix."""
    if not f.fixes:
        return (f.catalog, f.steps)
    p = f.fixes[0].params
    return (f.catalog, *(str(p.get(k, "")) for k in ("step", "flag", "value", "name", "new_flag")))
