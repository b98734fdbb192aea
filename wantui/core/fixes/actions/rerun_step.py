"""Run a pipeline step again (after another fix, or a missing caching step): nothing on
disk changes; the front end runs the step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wantui.core.fixes.actions._flags import STEP
from wantui.core.fixes.actions.base import Action

if TYPE_CHECKING:
    from wantui.core.fixes.plan import FixPlan, PlanContext
    from wantui.core.project import Project


class RerunStep(Action):
    name = "rerun_step"
    params = (STEP,)

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"Run the {params['step']} step again"

    def plan(self, plan: FixPlan, ctx: PlanContext) -> None:
        from wantui.core.fixes import plan as P
        from wantui.core.fixes.toml_edit import FixRefused

        step = ctx.params["step"]
        if step == "launch":
            raise FixRefused(f"cannot rerun step {step!r}")
        if ctx.project is not None and step != "all":
            P.steps_for(step, ctx.project)
        if ctx.project is not None and step in ("latents", "te"):
            _check_something_to_cache(ctx.project)
        plan.rerun = step


def _check_something_to_cache(project: Project) -> None:
    """Caching again changes nothing while the dataset folders are there but hold no file
    to cache: such a rerun is moot (the dataset finding says where the videos are). A
    missing folder is left to its own finding, which names the nearest one."""
    from wantui.core.errors import WantuiError
    from wantui.core.fixes.toml_edit import FixMoot

    path = project.dataset_config_path()
    if path is None or not path.is_file():
        return
    from wantui.core.dataset import load_dataset_config, scan_datasets

    try:
        scans = scan_datasets(load_dataset_config(path), project.cwd())
    except (WantuiError, OSError):
        return  # a broken config has its own findings
    if scans and all(s.exists for s in scans) and not any(s.media for s in scans):
        where = ", ".join(str(s.directory or s.jsonl) for s in scans)
        raise FixMoot(
            f"the dataset has nothing to cache ({where}): caching again would write nothing"
        )


UNIT = RerunStep()
