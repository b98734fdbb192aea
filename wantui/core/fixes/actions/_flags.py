"""What the flag actions share: the plan of an edit of one step's argv in wantui.toml
(``step = "launch"``: accelerate's ``launch_args``; ``"all"``: every step)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wantui.core.fixes.actions.base import Action, Param

if TYPE_CHECKING:
    from wantui.core.args.catalog import ArgSpec
    from wantui.core.fixes.plan import FixPlan, PlanContext
    from wantui.core.project import Project

STEP = Param("step", "step")
FLAG = Param("flag", "flag")
LAUNCH_NOTE = 'Note: the train step runs without accelerate; launch_args take effect only with launcher = "accelerate".'


class FlagAction(Action):
    def edit_args(
        self, args: list[str], params: Mapping[str, Any], opts: Mapping[str, ArgSpec]
    ) -> list[str]:
        """The step's new argv (``opts``: the options of the step ``args`` are for)."""
        raise NotImplementedError

    def targets(self, params: Mapping[str, Any]) -> frozenset[tuple[str, ...]]:
        return frozenset({("flag", str(params["step"]), str(params["flag"]))})

    def check_step(self, params: Mapping[str, Any], args: list[str], step: str) -> None:
        """Refuse (FixMoot) before planning, from the step's current argv."""

    def plan(self, plan: FixPlan, ctx: PlanContext) -> None:
        from wantui.core.args.options import options_for
        from wantui.core.fixes import plan as P

        project = ctx.project_to_edit(plan)
        step = ctx.params["step"]
        names = P.steps_for(step, project)
        if step != "launch":
            for name in names:
                self.check_step(ctx.params, project.steps[name].args, name)

        def mutate(proj: Project) -> None:
            for name in names:
                s = proj.steps[name]
                if step == "launch":
                    s.launch_args = self.edit_args(s.launch_args, ctx.params, options_for("launch"))
                else:
                    s.args = self.edit_args(s.args, ctx.params, options_for(name))

        change, old, new = P.project_change(project, mutate)
        plan.change = change
        plan.argv = [P.ArgvChange(n, old.argv(n), new.argv(n)) for n in names]
        if step == "launch" and old.steps["train"].launcher != "accelerate":
            plan.notes.append(LAUNCH_NOTE)
