"""Set a variable in the environment of one step's child process (``step = "all"``: every
step). Variables that make a process load other code are never set
(:func:`wantui.core.fixactions.env_name_problem`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wantui.core.fixactions import env_name_problem
from wantui.core.fixes.actions._flags import STEP
from wantui.core.fixes.actions.base import Action, Param

if TYPE_CHECKING:
    from wantui.core.fixes.plan import FixPlan, PlanContext
    from wantui.core.project import Project

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvSet(Action):
    name = "env_set"
    params = (STEP, Param("name", "name"), Param("value", "value"))

    def check(self, params: Mapping[str, Any], *, templated: bool) -> str | None:
        name = params["name"]
        if not isinstance(name, str):
            return "fix action 'env_set': name must be a string"
        # a template is checked once filled in; a malformed name is the plan's to refuse
        if _ENV_NAME.fullmatch(name):
            problem = env_name_problem(name)
            if problem:
                return f"fix action 'env_set': {problem}"
        return None

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"Set {params['name']}={params['value']} for the {params['step']} step"

    def targets(self, params: Mapping[str, Any]) -> frozenset[tuple[str, ...]]:
        return frozenset({("env", str(params["step"]), str(params["name"]))})

    def plan(self, plan: FixPlan, ctx: PlanContext) -> None:
        from wantui.core.fixes import plan as P
        from wantui.core.fixes.toml_edit import FixRefused

        project = ctx.project_to_edit(plan)
        name, value = ctx.params["name"], ctx.params["value"]
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise FixRefused(f"bad environment variable name {name!r}")
        denied = env_name_problem(name)
        if denied:
            raise FixRefused(denied)
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise FixRefused("an environment value must be a string")
        names = P.steps_for(ctx.params["step"], project)

        def mutate(proj: Project) -> None:
            changed = False
            for n in names:
                if proj.steps[n].env.get(name) != str(value):
                    proj.steps[n].env[name] = str(value)
                    changed = True
            if not changed:
                raise FixRefused(f"{name} is already {value!r}")

        change, old, _new = P.project_change(project, mutate)
        plan.change = change
        plan.env = [P.EnvChange(n, name, str(value), old.steps[n].env.get(name)) for n in names]


UNIT = EnvSet()
