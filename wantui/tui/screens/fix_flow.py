"""Fix, undo, stop and rerun for the pipeline screen (a mixin, to keep each file small).

The fix engine plans and applies; this only asks the user and reports."""

from __future__ import annotations

from typing import Any

from textual import work

from wantui.core import fixes as fixes_mod
from wantui.core.errors import WantuiError
from wantui.core.project import STEP_NAMES, load_project
from wantui.tui.feed import StepState
from wantui.tui.widgets.findings_panel import FindingsPanel


def _fix_dialog() -> Any:
    # imported when first needed: rich.syntax (diff colours) is not on the first screen
    from wantui.tui.dialogs.fix_preview import FixDialog

    return FixDialog


def _confirm_dialog() -> Any:
    from wantui.tui.dialogs.confirm import ConfirmDialog

    return ConfirmDialog


def undo_sentence(result: Any) -> str:
    """What an undo did, said as the CLI says it (not the UndoResult's repr)."""
    label = result.entry.get("label") or result.entry.get("id") or "the last fix"
    others = list(getattr(result, "others", []) or [])
    if others:  # `--apply all` is one apply: one undo takes every fix of it back
        files = sorted({str(r.file) for r in [result, *others]})
        return (
            f"Undone: {len(others) + 1} fixes applied together ({label}, ...). "
            f"Restored byte for byte: {', '.join(files)}."
        )
    if not getattr(result, "landed", True):
        return (
            f"Undone: {label}. It had been interrupted before it changed {result.file}; "
            "the file already has its old bytes."
        )
    return f"Undone: {label}. {result.file} is restored byte for byte."


class FixFlow:
    """Needs ``feed``, ``source``, ``project``, ``read_only`` on the screen."""

    feed: Any
    source: Any
    project: Any
    read_only: bool
    last_applied: Any = None
    # what the Screen (and PreflightGate) it is mixed into provide
    app: Any
    notify: Any
    query_one: Any
    run_checks: Any
    selected: Any
    start_clean: Any
    restart_source: Any
    show_run: Any

    def _failed_step(self, finding: Any) -> str | None:
        for s in finding.steps:
            if s in STEP_NAMES:
                return s
        failed = [n for n, st in self.feed.steps.items() if st.state is StepState.FAILED]
        return failed[0] if failed else None

    def _can_run(self) -> bool:
        return not self.read_only and self.project is not None and hasattr(self.source, "start")

    def action_fix(self, index: int = 0) -> None:
        """Preview the selected finding's fix number ``index`` (Tab in the dialog shows
        the next one: any of its fixes can be applied, not only the first)."""
        finding = self.query_one(FindingsPanel).selected
        if finding is None:
            self.notify("no finding selected", timeout=3)
            return
        fixes = [fx for fx in finding.fixes if fx.auto]
        if not fixes:
            self.notify("no automatic fix for this one: see 'What to do'", timeout=5)
            return
        index %= len(fixes)
        dataset = self.project.dataset_config_path() if self.project is not None else None
        plan = fixes_mod.plan_fix(
            fixes[index], self.project, dataset_config=dataset, finding=finding
        )
        step = (plan.rerun or self._failed_step(finding)) if self._can_run() else None

        def done(choice: str | None) -> None:
            if choice == "next":
                self.action_fix(index + 1)
            elif choice:
                self.apply_fix(plan, step if choice == "apply_rerun" else None)

        refused = plan.refused
        if self.read_only and refused is None:
            refused = "another wantui holds this project (read-only)"
        dialog = _fix_dialog()(
            plan.label,
            plan.preview(),
            refused=refused,
            rerun_step=step,
            choice=(index + 1, len(fixes)),
        )
        self.app.push_screen(dialog, done)

    @work(thread=True, group="fix")
    def apply_fix(self, plan: Any, rerun: str | None) -> None:
        try:
            applied = fixes_mod.apply_plan(plan, fixes_mod.Journal(plan.root))
        except WantuiError as exc:
            self.app.call_from_thread(self.notify, f"fix not applied: {exc}", severity="error")
            return
        self.last_applied = applied
        self.app.call_from_thread(self.notify, f"applied: {plan.label}", timeout=5)
        if rerun:  # asked for with the fix; still never into a data loss unasked
            steps = list(STEP_NAMES[STEP_NAMES.index(rerun) :])
            self.app.call_from_thread(
                self.run_checks,
                steps,
                lambda: self._rerun_from(rerun, checked=True),
                ask_for_errors=False,
            )

    def action_undo(self) -> None:
        root = self.project.root if self.project is not None else None
        if root is None:
            self.notify("undo needs a project", timeout=3)
            return
        try:
            result = fixes_mod.undo_last(fixes_mod.Journal(root))
        except WantuiError as exc:
            self.notify(f"nothing undone: {exc}", severity="warning")
            return
        self.notify(undo_sentence(result), timeout=8)

    def action_stop(self) -> None:
        # allowed read-only too: whoever watches a run over SSH may need to stop it
        if not hasattr(self.source, "stop_run"):
            self.notify("nothing this screen can stop", timeout=3)
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.stop_run()

        self.app.push_screen(
            _confirm_dialog()(
                "Stop the run?", "SIGINT, then SIGTERM, then SIGKILL to the step's group."
            ),
            done,
        )

    @work(thread=True, group="stop")
    def stop_run(self) -> None:
        try:
            self.source.stop_run()
        except WantuiError as exc:
            self.app.call_from_thread(self.notify, f"stop: {exc}", severity="error")

    def action_rerun(self) -> None:
        if not self._can_run():
            self.notify("rerun needs a project and no other wantui on it", timeout=4)
            return
        running = [n for n, st in self.feed.steps.items() if st.state is StepState.RUNNING]
        if running:
            self.notify(f"{running[0]} is still running", timeout=4)
            return
        step = self.selected
        steps = list(STEP_NAMES[STEP_NAMES.index(step) :])
        self.run_checks(steps, lambda: self._rerun_from(step, checked=True))

    def action_run_all(self) -> None:
        """Run the whole pipeline; the supervisor skips caching steps whose caches exist."""
        if not self._can_run():
            self.notify("running needs a project and no other wantui on it", timeout=4)
            return
        if any(st.state is StepState.RUNNING for st in self.feed.steps.values()):
            self.notify("a step is still running", timeout=4)
            return
        # the fast checks first (PreflightGate): asks before running into a known error
        self.run_checks(None, lambda: self._rerun_from(STEP_NAMES[0], all_steps=True, checked=True))

    def _rerun_from(self, step: str, *, all_steps: bool = False, checked: bool = False) -> None:
        """Run ``step`` and the steps after it again, with the project as saved now.
        ``checked``: the preflight gate has just checked this run; its findings stay shown."""
        try:
            self.project = load_project(self.project.root)
        except WantuiError as exc:
            self.notify(str(exc), severity="error")
            return
        steps = list(STEP_NAMES[STEP_NAMES.index(step) :])
        gate = getattr(self, "gate", None)
        self.start_clean(steps, list(gate.findings) if checked and gate is not None else [])
        self.source.project = self.project
        self.source.steps = None if all_steps else steps
        self.restart_source()

    @work(thread=True, exclusive=True, group="source")
    def restart_source(self) -> None:
        try:
            self.source.start()
            self.app.call_from_thread(self.show_run, "running")
        except WantuiError as exc:
            self.app.call_from_thread(self.notify, f"cannot start: {exc}", severity="error")
            return
        from wantui.tui.feed_process import play

        play(self.source, self.feed)
