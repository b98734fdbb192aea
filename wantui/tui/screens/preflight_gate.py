"""The fast checks before a run starts from the pipeline screen (a mixin, like FixFlow).

The core decides (:func:`wantui.core.gate.preflight_gate`); this shows what it found in
the findings panel and, when the run would meet an error or lose data, asks first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import work

from wantui.core import gate as gate_mod
from wantui.core.errors import WantuiError
from wantui.core.project import load_project
from wantui.tui.widgets.findings_panel import FindingsPanel

SHOWN = 5  # problems named in the question; the panel lists them all


class PreflightGate:
    """Needs ``project`` on the screen."""

    project: Any
    gate: Any = None  # the last Gate (tests read it)

    def run_checks(
        self,
        steps: list[str] | None,
        then: Callable[[], None] | None,
        *,
        ask_for_errors: bool = True,
    ) -> None:
        """Check a run of ``steps`` (None: the whole pipeline, cached steps skipped); then
        call ``then`` (start it) unless the user declines; ``then=None``: only show.
        ``ask_for_errors=False`` (a rerun the user asked for with a fix): ask only before
        a data loss."""
        panel = self.query_one(FindingsPanel)  # type: ignore[attr-defined]
        panel.loading = True  # the model headers and the dataset scan take a moment
        self._check_worker(steps, then, ask_for_errors)

    @work(thread=True, exclusive=True, group="preflight")
    def _check_worker(
        self, steps: list[str] | None, then: Callable[[], None] | None, ask_for_errors: bool
    ) -> None:
        try:
            project = load_project(self.project.root)
            gate = gate_mod.preflight_gate(project, steps, skip_cached=steps is None)
        except WantuiError as exc:
            self.app.call_from_thread(self._checked, None, str(exc), then, True)  # type: ignore[attr-defined]
            return
        self.app.call_from_thread(self._checked, gate, "", then, ask_for_errors)  # type: ignore[attr-defined]

    def _checked(
        self, gate: Any, problem: str, then: Callable[[], None] | None, ask_for_errors: bool
    ) -> None:
        panel = self.query_one(FindingsPanel)  # type: ignore[attr-defined]
        panel.loading = False
        if gate is None:
            self.notify(f"cannot start: {problem}", severity="error", timeout=10)  # type: ignore[attr-defined]
            return
        self.gate = gate
        panel.show(gate.findings)
        panel.set_note(gate.summary())
        blocking = gate.blocking if ask_for_errors else gate.data_loss
        if then is None:
            return
        if not blocking:
            if gate.findings:
                self.notify(gate.summary(), timeout=6)  # type: ignore[attr-defined]
            then()
            return
        from wantui.tui.dialogs.confirm import ConfirmDialog

        # titles carry file names and [[datasets]]: the dialog shows them as text
        named = "\n".join(f"• {f.title}" for f in blocking[:SHOWN])
        more = f"\n… and {len(blocking) - SHOWN} more" if len(blocking) > SHOWN else ""

        def answered(yes: bool | None) -> None:
            if yes:
                then()
            else:
                self.notify("not started: the findings panel says why (a: fix)", timeout=6)  # type: ignore[attr-defined]

        self.app.push_screen(  # type: ignore[attr-defined]
            ConfirmDialog(
                f"The run would meet {len(blocking)} known problem(s). Run anyway?",
                f"{named}{more}\n\n{gate.summary()}",
            ),
            answered,
        )
