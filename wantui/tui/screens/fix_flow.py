"""Fix, undo, stop and rerun for the pipeline screen (a mixin, to keep each file small).

The core's fix flow (:class:`wantui.core.fixes.flow.FixSession`) plans, applies and
undoes; this only shows the preview, asks the user and reports. :func:`offer_fix` is the
dialog of a finding's fixes for every screen (the setup screen's too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import work

from wantui.core.errors import WantuiError
from wantui.core.fixes.flow import FixChoice, FixSession, auto_fixes
from wantui.core.project import STEP_NAMES, load_project
from wantui.tui.feed import StepState
from wantui.tui.widgets.findings_panel import FindingsPanel


def fix_session(project: Any) -> FixSession:
    """The fix flow of a screen's project (its dataset config by the project's name)."""
    dataset = project.dataset_config_path() if project is not None else None
    return FixSession(project, dataset_config=dataset)


def offer_fix(
    app: Any,
    session: FixSession,
    finding: Any,
    on_answer: Callable[[FixChoice, Any, str], None],
    *,
    index: int = 0,
    refuse: str | None = None,
    rerun_step: Callable[[Any], str | None] | None = None,
) -> bool:
    """Preview the finding's fix number ``index`` in the fix dialog (Tab shows the next:
    any of its fixes can be applied, not only the first); ``on_answer(choice, plan,
    answer)`` gets "apply" or "apply_rerun". ``refuse``: why nothing may be applied here
    (read-only). False when the finding has no automatic fix."""
    from wantui.tui.dialogs.fix_preview import FixDialog  # not on the first screen

    fixes = auto_fixes(finding)
    if not fixes:
        return False
    index %= len(fixes)
    plan = session.plan(fixes[index], finding)
    choice = FixChoice(index + 1, finding, fixes[index], plan)
    step = rerun_step(plan) if rerun_step is not None else None

    def done(answer: str | None) -> None:
        if answer == "next":
            offer_fix(
                app,
                session,
                finding,
                on_answer,
                index=index + 1,
                refuse=refuse,
                rerun_step=rerun_step,
            )
        elif answer:
            on_answer(choice, plan, answer)

    dialog = FixDialog(
        plan.label,
        plan.preview_lines(),
        refused=plan.refused or refuse,
        rerun_step=step,
        choice=(index + 1, len(fixes)),
    )
    app.push_screen(dialog, done)
    return True


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

    def action_fix(self) -> None:
        """Preview the selected finding's fixes, apply the one the user chooses."""
        finding = self.query_one(FindingsPanel).selected
        if finding is None:
            self.notify("no finding selected", timeout=3)
            return

        def rerun_step(plan: Any) -> str | None:
            return (plan.rerun or self._failed_step(finding)) if self._can_run() else None

        def answer(choice: FixChoice, plan: Any, how: str) -> None:
            self.apply_fix(choice, plan, rerun_step(plan) if how == "apply_rerun" else None)

        read_only = "another wantui holds this project (read-only)" if self.read_only else None
        offered = offer_fix(
            self.app,
            fix_session(self.project),
            finding,
            answer,
            refuse=read_only,
            rerun_step=rerun_step,
        )
        if not offered:
            self.notify("no automatic fix for this one: see 'What to do'", timeout=5)

    @work(thread=True, group="fix")
    def apply_fix(self, choice: FixChoice, plan: Any, rerun: str | None) -> None:
        outcome = fix_session(self.project).apply(choice, plan)
        if outcome.applied is None:
            reason = outcome.error or outcome.refused
            self.app.call_from_thread(self.notify, f"fix not applied: {reason}", severity="error")
            return
        self.last_applied = outcome.applied
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
        if self.project is None:
            self.notify("undo needs a project", timeout=3)
            return
        try:
            result = fix_session(self.project).undo()
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
