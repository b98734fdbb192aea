"""Download a catalog file (a :mod:`wantui.core.hub` catalog name or OWNER/REPO/FILE) into
the models folder and, optionally, point a step's flag at it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wantui.core.fixes.actions._flags import FLAG, STEP
from wantui.core.fixes.actions.base import Action, Param

if TYPE_CHECKING:
    from wantui.core.fixes.plan import FixPlan, PlanContext
    from wantui.core.project import Project

_ROLE_KIND = {"t5": "t5", "vae": "wan-vae", "clip": "clip"}


class Download(Action):
    name = "download"
    params = (
        Param("name", "catalog"),
        Param(STEP.name, STEP.type, required=False),
        Param(FLAG.name, FLAG.type, required=False),
    )

    def describe(self, params: Mapping[str, Any]) -> str:
        point = f" and point {params['flag']} at it" if params.get("flag") else ""
        return f"Download {params['name']}{point}"

    def targets(self, params: Mapping[str, Any]) -> frozenset[tuple[str, ...]]:
        if "flag" in params and "step" in params:
            return frozenset({("flag", str(params["step"]), str(params["flag"]))})
        return frozenset({("download", str(params["name"]))})

    def plan(self, plan: FixPlan, ctx: PlanContext) -> None:
        from wantui.core.args.options import options_for
        from wantui.core.errors import WantuiError
        from wantui.core.fixes import flags as flagops
        from wantui.core.fixes import plan as P
        from wantui.core.fixes.toml_edit import FixRefused
        from wantui.core.hub.catalog import resolve_spec
        from wantui.core.hub.download import free_space

        project = ctx.project_to_edit(plan)
        p = ctx.params
        try:
            f = resolve_spec(str(p["name"]))
        except WantuiError as exc:
            raise FixRefused(exc.message) from None
        # a models folder linked to a bigger disk is normal; the download only creates a
        # new file there (it never replaces a different one), so no symlink check here
        folder = (
            Path(ctx.models_dir)
            if ctx.models_dir is not None
            else project.resolve(project.models_dir)
        )
        dest = folder / f.basename
        wrong = _wrong_file_in_place(dest, f.role)
        if wrong:
            # the download would stop on it ("a different file with this name"), and
            # telling the user to get the file they already have leads nowhere
            raise FixRefused(
                f"{dest} is already there under the right name but is {wrong}; move it aside,"
                " then apply this fix to download the real one"
            )
        plan.download = P.DownloadStep(
            str(p["name"]), f.repo, f.filename, f.size, dest, free_space(folder)
        )
        step = p.get("step") or f.step
        flag = p.get("flag") or f.flag
        if step and flag and not p.get("step"):
            # the catalog's default step: skip the pointer when the project lacks that step
            target = "train" if step == "launch" else step
            if step != "all" and target not in project.steps:
                plan.notes.append(
                    f"The project has no [steps.{target}]; only the download is done."
                )
                return
        if not (step and flag):
            return
        names = P.steps_for(step, project)
        try:
            shown = str(dest.relative_to(project.root))
        except ValueError:
            shown = str(dest)

        def mutate(proj: Project) -> None:
            for name in names:
                s = proj.steps[name]
                if flagops.current_values(s.args, flag, options_for(name)) == [shown]:
                    continue
                s.args = flagops.set_flag(s.args, flag, shown, options_for(name))

        change, old, new = P.project_change(project, mutate)
        if change.before != change.after:
            plan.change = change
            plan.argv = [P.ArgvChange(n, old.argv(n), new.argv(n)) for n in names]

    def apply(self, plan: FixPlan, progress: Callable[[Any], None] | None) -> Path | None:
        from wantui.core.hub.download import download

        d = plan.download
        if d is None:
            return None
        return download(d.spec, d.dest.parent, progress=progress)


def _wrong_file_in_place(dest: Path, role: str) -> str | None:
    """What the file already at ``dest`` is, when it is not the model ``role`` needs."""
    kind = _ROLE_KIND.get(role)
    if kind is None or not dest.is_file():
        return None
    from wantui.core.models import inspect_file

    info = inspect_file(dest)
    if info.kind in ("unknown", "corrupt"):
        return None  # not surely wrong: the download compares it with the hub's file
    if info.kind == kind and not info.notes and info.details.get("layout", "wan") == "wan":
        return None
    return "; ".join(info.notes) or f"a {info.kind} file"


UNIT = Download()
