"""Cross checks of the DiT file against the training flags: task, precision, fp8, block swap."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wantui.core.args.options import project_launch, project_view
from wantui.core.finding import Finding
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction

if TYPE_CHECKING:
    from wantui.core.project import Project
from wantui.core.modelchecks.refs import (
    WAN22_TASKS,
    ModelRef,
    model_at,
    train_task,
)


def dit_findings(project: Project, refs: list[ModelRef]) -> list[Finding]:
    """The DiT (and its high-noise expert) against --task, precision, fp8 and block swap."""
    out: list[Finding] = []
    train = project_view(project, "train")
    task = train_task(project)
    task_given = train.has("--task")
    default = "" if task_given else " (the default)"
    dits = [r for r in refs if r.role == "dit" and r.info.kind == "wan-dit"]
    for ref in dits:
        d = ref.info.details
        tasks = d.get("tasks") or []
        if tasks and task not in tasks:
            want = d.get("suggested_task") or tasks[0]
            out.append(
                emit(
                    "dit-task-mismatch",
                    **model_at(ref),
                    text={
                        "params": str(d.get("params")),
                        "family": str(d.get("family")),
                        "task": task,
                        "summary": ref.info.summary(),
                        "in_dim": str(d.get("in_dim")),
                        "dim": str(d.get("dim")),
                        "layers": str(d.get("layers")),
                        "default": default,
                        "fits": ", ".join(tasks),
                    },
                    fixes=[
                        FixAction(
                            "flag_set" if task_given else "flag_add",
                            {"step": "train", "flag": "--task", "value": want},
                            label=f"Set --task {want}",
                        )
                    ],
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
                emit(
                    "dit-pair-mismatch",
                    **model_at(high),
                    text={"low": low.info.summary(), "high": high.info.summary()},
                )
            )
    # Wan2.2 weights under a Wan2.1 task
    family = (low or high).info.details.get("family") if (low or high) else None
    wan22_task = "i2v-A14B" if family == "i2v" else "t2v-A14B"
    if train.has("--dit_high_noise") and task not in WAN22_TASKS:
        boundary = train.has("--timestep_boundary")
        out.append(
            emit(
                "wan22-task-high-noise",
                **model_at(high or low),
                text={
                    "task": task,
                    "default": default,
                    "no_boundary": ""
                    if boundary
                    else " Without --timestep_boundary training stops with 'timestep_boundary is"
                    " not specified for high noise model'.",
                    "wan22_task": wan22_task,
                },
                fixes=[
                    FixAction(
                        "flag_set" if task_given else "flag_add",
                        {"step": "train", "flag": "--task", "value": wan22_task},
                        label=f"Set --task {wan22_task}",
                    )
                ],
            )
        )
    elif low and low.info.details.get("wan_version") == "2.2" and task not in WAN22_TASKS:
        if task in (low.info.details.get("tasks") or []):  # structurally fine, silently wrong
            out.append(
                emit(
                    "wan22-task-default",
                    **model_at(low),
                    text={"task": task, "default": default, "wan22_task": wan22_task},
                    fixes=[
                        FixAction(
                            "flag_set" if task_given else "flag_add",
                            {"step": "train", "flag": "--task", "value": wan22_task},
                            label=f"Set --task {wan22_task}",
                        )
                    ],
                )
            )
    if low is not None:
        out.extend(_precision_findings(project, low))
        out.extend(_blockswap_findings(project, low))
    return out


def _precision_findings(project: Project, ref: ModelRef) -> list[Finding]:
    out: list[Finding] = []
    train = project_view(project, "train")
    launch = project_launch(project)
    dtype = ref.info.dtype
    mp = train.get("--mixed_precision")
    if dtype in ("bf16", "fp16") and mp not in (dtype, "no"):
        launch_mp = launch.get("--mixed_precision")
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
            emit(
                "precision-mismatch",
                **model_at(ref),
                text={
                    "dtype": dtype,
                    "setting": f" but {why.split(';')[0]}",
                    "lead": f"{ref.path} stores {dtype} weights and {why}: training stops with"
                    " 'AssertionError: ",
                    "tail": "'.",
                },
                fixes=fixes,
            )
        )
    fp8_base = train.has("--fp8_base")
    fp8_scaled = train.has("--fp8_scaled")
    if dtype == "fp8_e4m3fn" and fp8_scaled:
        out.append(
            emit(
                "fp8-scaled-on-fp8",
                **model_at(ref),
                fixes=[
                    FixAction(
                        "flag_remove",
                        {"step": "train", "flag": "--fp8_scaled"},
                        label="Remove --fp8_scaled (keep --fp8_base)",
                    )
                ],
            )
        )
    elif fp8_scaled and not fp8_base:
        out.append(
            emit(
                "fp8-scaled-without-base",
                **model_at(ref),
                text={"lead": "Training stops with '", "tail": "'."},
                fixes=[
                    FixAction(
                        "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                    )
                ],
            )
        )
    if dtype == "fp8_e4m3fn" and not fp8_base:
        out.append(
            emit(
                "fp8-file-upcast",
                **model_at(ref),
                fixes=[
                    FixAction(
                        "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                    )
                ],
            )
        )
    return out


def _blockswap_findings(project: Project, ref: ModelRef) -> list[Finding]:
    train = project_view(project, "train")
    swap = train.int("--blocks_to_swap")
    layers = ref.info.details.get("layers") or 0
    out: list[Finding] = []
    if swap is not None and layers and swap > layers - 1:
        out.append(
            emit(
                "blockswap-too-many",
                **model_at(ref),
                text={
                    "swap": swap,
                    "layers": layers,
                    "most": layers - 1,
                    "params": str(ref.info.details.get("params")),
                },
                fixes=[
                    FixAction(
                        "flag_set",
                        {"step": "train", "flag": "--blocks_to_swap", "value": str(layers - 1)},
                        label=f"Swap {layers - 1} blocks",
                    )
                ],
            )
        )
    if swap and train.has("--offload_inactive_dit"):
        out.append(
            emit(
                "blockswap-and-offload",
                **model_at(ref),
                fixes=[
                    FixAction(
                        "flag_remove",
                        {"step": "train", "flag": "--offload_inactive_dit"},
                        label="Keep block swap, drop --offload_inactive_dit",
                    )
                ],
            )
        )
    return out
