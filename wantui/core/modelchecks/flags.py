"""Cross checks of the DiT file against the training flags: task, precision, fp8, block swap."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wantui.core.args.options import project_launch, project_view
from wantui.core.finding import Finding, Severity
from wantui.core.fixactions import FixAction

if TYPE_CHECKING:
    from wantui.core.project import Project
from wantui.core.modelchecks.refs import (
    WAN22_TASKS,
    ModelRef,
    model_finding,
    train_task,
)


def dit_findings(project: Project, refs: list[ModelRef]) -> list[Finding]:
    """The DiT (and its high-noise expert) against --task, precision, fp8 and block swap."""
    out: list[Finding] = []
    train = project_view(project, "train")
    task = train_task(project)
    task_given = train.has("--task")
    dits = [r for r in refs if r.role == "dit" and r.info.kind == "wan-dit"]
    for ref in dits:
        d = ref.info.details
        tasks = d.get("tasks") or []
        if tasks and task not in tasks:
            want = d.get("suggested_task") or tasks[0]
            out.append(
                model_finding(
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
                model_finding(
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
    if train.has("--dit_high_noise") and task not in WAN22_TASKS:
        boundary = train.has("--timestep_boundary")
        out.append(
            model_finding(
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
                model_finding(
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
            model_finding(
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
    fp8_base = train.has("--fp8_base")
    fp8_scaled = train.has("--fp8_scaled")
    if dtype == "fp8_e4m3fn" and fp8_scaled:
        out.append(
            model_finding(
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
            model_finding(
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
            model_finding(
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
    train = project_view(project, "train")
    swap = train.int("--blocks_to_swap")
    layers = ref.info.details.get("layers") or 0
    out: list[Finding] = []
    if swap is not None and layers and swap > layers - 1:
        out.append(
            model_finding(
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
    if swap and train.has("--offload_inactive_dit"):
        out.append(
            model_finding(
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
