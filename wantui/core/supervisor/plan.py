"""Turn a project into the exact argv and environment of each step of a run.

This is where the launch policy lives (pure functions, tested without spawning):

* every child gets ``PYTHONUNBUFFERED=1`` so its log lines reach the file as they happen;
* ``accelerate launch`` gets explicit ``--num_processes``, ``--num_machines``,
  ``--mixed_precision`` and ``--dynamo_backend`` when missing: accelerate otherwise prints
  its "values were not passed" warning and, with no accelerate config and several GPUs,
  silently switches to multi-GPU;
* data-parallel training (``--multi_gpu --num_processes N``, NCCL) on Linux when asked;
* on Windows, ``USE_LIBUV=0`` and one process, because multi-process ``accelerate launch``
  fails there in torch's rendezvous store ("use_libuv was requested but PyTorch was built
  without libuv support"); WSL2 is the way to train on several GPUs from Windows;
* caching steps always run single-process.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from wantui.core.args.options import launch_view, step_view, without
from wantui.core.errors import WantuiError
from wantui.core.project import STEP_NAMES, Project, Step

CACHING_STEPS = ("latents", "te")
WINDOWS_NOTE = (
    "Windows: training kept to one process. Multi-GPU `accelerate launch` fails there in "
    "torch's rendezvous store (\"use_libuv was requested but PyTorch was built without libuv "
    'support"); USE_LIBUV=0 is set for the launcher. Use WSL2 or Linux to train on several GPUs.'
)


@dataclass
class StepPlan:
    name: str
    argv: list[str]
    env: dict[str, str]  # overrides on top of the inherited environment
    cwd: Path
    script: Path
    notes: list[str] = field(default_factory=list)
    skip_reason: str | None = None


def requested_processes(step: Step, num_processes: int | None = None) -> int:
    """How many training processes the project asks for (the caller's value wins)."""
    if num_processes is not None:
        return max(1, int(num_processes))
    value = launch_view(step.launch_args).get("--num_processes")
    if value is not None:
        try:
            return max(1, int(value))
        except ValueError:
            raise WantuiError(
                f"steps.{step.name}.launch_args: --num_processes {value!r} is not a number"
            ) from None
    return 1


def accelerate_launch_args(
    step: Step, *, num_processes: int | None = None, platform: str = sys.platform
) -> tuple[list[str], list[str]]:
    """The launch args to use and notes explaining any change the user should know about."""
    args = list(step.launch_args)
    notes: list[str] = []
    launch = launch_view(args)
    if launch.has("--config_file"):
        # the user chose an accelerate config on purpose; flags would override it
        return args, ["accelerate --config_file given: launch flags left as they are"]
    wanted = 1 if step.name in CACHING_STEPS else requested_processes(step, num_processes)
    if wanted > 1 and platform == "win32":
        notes.append(WINDOWS_NOTE)
        wanted = 1
    # what we add goes in front; the user's own launch args keep their order after it
    args = without(args, launch, "--num_processes")
    args = without(args, launch_view(args), "--multi_gpu")
    front = ["--multi_gpu"] if wanted > 1 else []
    front += ["--num_processes", str(wanted)]
    if not launch.has("--num_machines"):
        front += ["--num_machines", "1"]
    if not launch.has("--mixed_precision"):
        # the script's own --mixed_precision is what musubi checks against the DiT dtype
        mixed = step_view(step.name, step.args).get("--mixed_precision")
        front += ["--mixed_precision", mixed or "no"]
    if not launch.has("--dynamo_backend"):
        front += ["--dynamo_backend", "no"]
    return front + args, notes


def plan_step(
    project: Project, name: str, *, num_processes: int | None = None, platform: str = sys.platform
) -> StepPlan:
    step = project.steps[name]
    notes: list[str] = []
    env = {"PYTHONUNBUFFERED": "1", **step.env}
    if platform == "win32":
        env.setdefault("USE_LIBUV", "0")
    if step.launcher == "accelerate":
        launch_args, notes = accelerate_launch_args(
            step, num_processes=num_processes, platform=platform
        )
        step = dataclasses.replace(step, launch_args=launch_args)
    elif name == "train" and requested_processes(step, num_processes) > 1:
        notes.append(
            'several processes asked for, but the launcher is python: set launcher = "accelerate" for data-parallel training'
        )
    shadow = dataclasses.replace(project, steps={**project.steps, name: step})
    return StepPlan(
        name=name,
        argv=shadow.argv(name),
        env=env,
        cwd=project.cwd(),
        script=project.script_path(step),
        notes=notes,
    )


def plan_run(
    project: Project,
    steps: list[str] | None = None,
    *,
    skip_cached: bool = False,
    num_processes: int | None = None,
    platform: str = sys.platform,
) -> list[StepPlan]:
    """Plans for the chosen steps, in pipeline order. Unknown or unconfigured steps are errors."""
    chosen = (
        list(steps)
        if steps
        else [n for n in STEP_NAMES if n in project.steps and project.steps[n].enabled]
    )
    for name in chosen:
        if name not in STEP_NAMES:
            from wantui.core.similar import suggestion

            raise WantuiError(
                f"unknown step {name!r}{suggestion(name, STEP_NAMES)} (steps are {', '.join(STEP_NAMES)})"
            )
        if name not in project.steps:
            raise WantuiError(
                f"step {name!r} is not set up in the project ([steps.{name}] is missing)",
                path=project.file,
            )
    if not chosen:
        raise WantuiError("the project has no steps to run", path=project.file)
    plans = []
    for name in [n for n in STEP_NAMES if n in chosen]:
        plan = plan_step(project, name, num_processes=num_processes, platform=platform)
        if skip_cached and name in CACHING_STEPS:
            from wantui.core.supervisor.caches import caches_present

            present, why = caches_present(project, name)
            if present:
                plan.skip_reason = why
        plans.append(plan)
    return plans
