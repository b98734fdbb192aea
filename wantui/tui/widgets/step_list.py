"""The three steps and their state, one row each; the selected one is shown in the pane."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from wantui.tui.feed import StepState, StepStatus
from wantui.tui.safe import SafeStatic

LABELS = {"latents": "1 cache latents", "te": "2 cache T5", "train": "3 train"}
ICONS = {
    StepState.PENDING: ("·", "dim"),
    StepState.RUNNING: ("▶", "bold cyan"),
    StepState.DONE: ("✓", "bold green"),
    StepState.FAILED: ("✗", "bold red"),
    StepState.SKIPPED: ("↷", "yellow"),
    StepState.STOPPED: ("■", "magenta"),
}


class StepList(SafeStatic):
    """Shows step states; ``selected`` is the step whose log is visible."""

    selected: reactive[str] = reactive("latents")

    def __init__(self, **kw: object) -> None:
        super().__init__("", **kw)  # type: ignore[arg-type]
        self._status: list[StepStatus] = []

    def show(self, statuses: list[StepStatus]) -> None:
        self._status = statuses
        self._draw()

    def watch_selected(self, _: str) -> None:
        self._draw()

    def _draw(self) -> None:
        out = Text()
        for st in self._status:
            icon, style = ICONS[st.state]
            mark = "›" if st.name == self.selected else " "
            line = Text(f"{mark}{icon} ", style=style)
            line.append(
                LABELS.get(st.name, st.name), style="reverse" if st.name == self.selected else ""
            )
            tail = st.state.value
            if st.state is StepState.FAILED and st.returncode is not None:
                tail += f" ({st.returncode})"
            line.append(f" {tail}", style="dim")
            if st.ranks > 1:  # data-parallel: how many ranks wrote to this log
                line.append(f" ×{st.ranks}", style="bold")
            out.append_text(line)
            out.append("\n")
        self.update(out)
