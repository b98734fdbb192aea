"""One fix flow for every front end: the fixes of findings, their plans (preview data),
apply with a backup and an undo journal, the result.

``wantui fix``, the pipeline screen and the setup screen only choose, show the preview
and ask; this module does the rest::

    session = FixSession(project, dataset_config=path)
    choices = session.choices(findings)            # numbered, root causes first
    plan = session.plan(choices[0].action, choices[0].finding)
    outcome = session.apply(choices[0], plan)      # backup, journal, project reloaded
    session.undo()

:meth:`FixSession.apply_each` is the loop of ``--apply all``: each fix planned again
right before it is applied, alternatives of an applied fix skipped, one undo for all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.errors import WantuiError
from wantui.core.finding import Finding, Severity, sort_findings
from wantui.core.fixactions import FixAction, fix_targets
from wantui.core.fixes.journal import AppliedFix, Journal, UndoResult, apply_plan, new_group_id
from wantui.core.fixes.journal import undo_last as _undo_last
from wantui.core.fixes.plan import FixPlan, plan_fix
from wantui.core.project import Project, load_project


@dataclass
class FixChoice:
    """One fix offered: its number (from 1), the finding it came from, and its plan as
    it was when the list was made."""

    id: int
    finding: Finding
    action: FixAction
    plan: FixPlan


@dataclass
class FixOutcome:
    """What became of one chosen fix: applied (``applied``), skipped (an alternative of a
    fix applied before it, or not confirmed), refused or failed (``refused``/``error``)."""

    choice: FixChoice
    plan: FixPlan
    applied: AppliedFix | None = None
    skipped: str | bool | None = None  # "alternative", or True: the user said no
    refused: str | None = None  # the plan's reason, or why it is not done unattended
    outside: str | None = None  # the file lies outside the project folder (said, asked)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.refused is not None or self.error is not None

    def to_json(self) -> dict[str, Any]:
        """One result of ``wantui fix --apply --json`` (docs/json.md)."""
        c = self.choice
        if self.applied is not None:
            return {
                **self.applied.to_json(),
                "id": c.id,
                "journal_id": self.applied.id,
                "applied": True,
            }
        if self.skipped == "alternative":
            return {"id": c.id, "applied": False, "skipped": "alternative", "label": c.action.label}
        out: dict[str, Any] = {"id": c.id, "applied": False}
        if self.refused is not None:
            out["refused"] = self.refused
        elif self.error is not None:
            out["error"] = self.error
        else:
            out["skipped"] = True
        out["label"] = self.plan.label
        return out


def fix_key(action: FixAction) -> str:
    """Two fixes with the same key are the same fix (offered once, applied once)."""
    return json.dumps([action.action, action.params], sort_keys=True, default=str)


def auto_fixes(finding: Finding | None) -> list[FixAction]:
    """The fixes of a finding that can be applied (any of them, not only the first)."""
    return [fx for fx in getattr(finding, "fixes", None) or [] if fx.auto]


def unaddressed_errors(findings: Iterable[Finding], applied: set[str]) -> list[Finding]:
    """Error findings none of whose fixes was applied (a fix shared by several findings,
    like one rewrite of every Windows path, addresses each of them)."""
    return [
        f
        for f in findings
        if f.severity is Severity.ERROR and not any(fix_key(a) in applied for a in f.fixes)
    ]


def fill_download_size(plan: FixPlan) -> None:
    """Ask the hub for the size before asking the user (the catalog rarely knows it)."""
    d = plan.download
    if plan.refused or d is None or d.size is not None:
        return
    from wantui.core.hub import remote_info, resolve_spec

    try:
        d.size = remote_info(resolve_spec(d.spec)).size
    except WantuiError as exc:
        plan.notes.append(f"Size unknown: {exc.message}")


@dataclass
class FixSession:
    """The fixes of one project (or of a dataset TOML alone): plan, apply, undo.

    ``dataset_config``: a dataset TOML named by the user (instead of, or without, the
    project's). After each applied fix the project is loaded again, so the next plan
    sees its edits."""

    project: Project | None
    dataset_config: Path | None = None
    models_dir: Path | None = None
    applied_keys: set[str] = field(default_factory=set)

    @property
    def root(self) -> Path:
        if self.project is not None:
            return self.project.root
        if self.dataset_config is not None:
            return Path(os.path.abspath(self.dataset_config)).parent
        return Path.cwd()

    def plan(self, action: FixAction, finding: Finding | None = None) -> FixPlan:
        return plan_fix(
            action,
            self.project,
            dataset_config=self.dataset_config,
            finding=finding,
            models_dir=self.models_dir,
        )

    def choices(self, findings: Iterable[Finding]) -> list[FixChoice]:
        """Number every distinct fix of the findings, root causes first; a fix that
        would not help here (workers already at 1) is not offered."""
        out: list[FixChoice] = []
        seen: set[str] = set()
        for f in sort_findings(list(findings)):
            for action in f.fixes:
                key = fix_key(action)
                if key in seen:
                    continue
                seen.add(key)
                plan = self.plan(action, f)
                if plan.moot:
                    continue
                out.append(FixChoice(len(out) + 1, f, action, plan))
        return out

    def outside_project(self, plan: FixPlan) -> str:
        """Why the file ``plan`` edits is not the project's to edit unattended: it lies
        outside the project folder and the user did not name it (``dataset_config``)."""
        change = plan.change
        if self.project is None or change is None:
            return ""
        path = Path(os.path.realpath(change.path))
        root = Path(os.path.realpath(self.project.root))
        if path.is_relative_to(root):
            return ""
        if self.dataset_config and Path(os.path.realpath(self.dataset_config)) == path:
            return ""
        return f"{path} is outside the project folder {root}"

    def is_alternative(self, choice: FixChoice) -> bool:
        """An alternative (rename | remove the same key) of a fix applied before."""
        return any(
            fix_key(a) in self.applied_keys and fix_targets(a) & fix_targets(choice.action)
            for a in choice.finding.fixes
        )

    def apply(
        self,
        choice: FixChoice,
        plan: FixPlan,
        *,
        group: str | None = None,
        progress: Callable[[Any], None] | None = None,
    ) -> FixOutcome:
        """Apply a previewed plan: atomic write, backup, journal (undo), project reloaded.
        A refused plan or a failed write is said in the outcome, never raised."""
        if plan.refused is not None:
            return FixOutcome(choice, plan, refused=plan.refused)
        try:
            applied = apply_plan(plan, Journal(plan.root), progress=progress, group=group)
        except WantuiError as exc:
            return FixOutcome(choice, plan, error=str(exc))
        self.applied_keys.add(fix_key(choice.action))
        if self.project is not None:  # later fixes must see this one's edits
            self.project = load_project(self.project.root)
        return FixOutcome(choice, plan, applied=applied)

    def apply_each(
        self,
        chosen: list[FixChoice],
        *,
        show: Callable[[FixChoice, FixPlan], None],
        confirm: Callable[[FixChoice, FixPlan, str], bool],
        unattended: bool = False,
        allow_outside: bool = False,
        progress: Callable[[Any], None] | None = None,
    ) -> Iterator[FixOutcome]:
        """Apply fixes one by one, each planned again right before (an earlier one may
        have changed the same file), given to ``show`` (the preview), then, when it can
        be applied, to ``confirm(choice, plan, outside)``, which says yes or no.
        ``unattended`` (``--yes``): a file outside the project folder is not edited
        unless ``allow_outside``. One undo reverts them all."""
        group = new_group_id() if len(chosen) > 1 else None
        for choice in chosen:
            if self.is_alternative(choice):
                yield FixOutcome(choice, choice.plan, skipped="alternative")
                continue
            plan = self.plan(choice.action, choice.finding)
            fill_download_size(plan)
            show(choice, plan)
            if plan.refused is not None:
                yield FixOutcome(choice, plan, refused=plan.refused)
                continue
            outside = self.outside_project(plan)
            if outside and unattended and not allow_outside:
                # a wantui.toml the user did not write can name any file as its dataset
                # config: unattended, wantui edits only what lies in the project folder
                yield FixOutcome(choice, plan, refused=outside, outside=outside)
                continue
            if not confirm(choice, plan, outside):
                yield FixOutcome(choice, plan, skipped=True)
                continue
            yield self.apply(choice, plan, group=group, progress=progress)

    def undo(self, *, force: bool = False) -> UndoResult:
        """Revert the last apply (every fix applied with it)."""
        return _undo_last(Journal(self.root), force=force)
