"""Preview of one fix (diff, argv change or download) before anything is written.

Returns "apply", "apply_rerun", "next" (show the finding's next fix) or None. Nothing is
applied here: the screen hands the plan to the fix flow after this dialog says yes. The
preview comes as typed lines (:meth:`wantui.core.fixes.plan.FixPlan.preview_lines`):
each is coloured by its kind, never by reading its text."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer

from wantui.core.fixes.plan import PreviewLine
from wantui.tui.safe import SafeStatic, safe_str

# the colour of each kind of preview line (others: the default colour)
STYLES = {
    "title": "bold",
    "refused": "bold red",
    "diff-file": "bold",
    "diff-hunk": "cyan",
    "diff-add": "green",
    "diff-remove": "red",
    "diff-note": "dim",
    "argv-add": "green",
    "argv-remove": "red",
    "argv-replace": "yellow",
}


def preview_text(lines: Sequence[PreviewLine]) -> Text:
    """The preview's lines as one Text, each line its kind's colour, controls shown."""
    out = Text()
    for line in lines:
        out.append(safe_str(line.text), style=STYLES.get(line.kind, ""))
        out.append("\n")
    return out


class FixDialog(ModalScreen["str | None"]):
    BINDINGS = [
        Binding("a", "choose('apply')", "Apply"),
        Binding("r", "choose('apply_rerun')", "Apply + rerun step"),
        Binding("escape,n", "choose(None)", "Cancel"),
        Binding("tab", "choose('next')", "Next fix", show=False),
    ]

    def __init__(
        self,
        title: str,
        preview: str | Sequence[PreviewLine],
        *,
        refused: str | None = None,
        rerun_step: str | None = None,
        choice: tuple[int, int] = (1, 1),
    ) -> None:
        super().__init__()
        self.title_text = title
        if isinstance(preview, str):  # plain text: one line each, no colour
            preview = [PreviewLine("note", line) for line in preview.rstrip("\n").split("\n")]
        self.lines = list(preview)
        self.preview = "\n".join(safe_str(line.text) for line in self.lines)
        self.refused = refused
        self.rerun_step = rerun_step
        self.choice = choice  # (this fix's number, how many the finding has)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            n, of = self.choice
            title = f"{self.title_text}  (fix {n} of {of})" if of > 1 else self.title_text
            yield SafeStatic(Text(title, style="bold"), id="dialog-question")
            with VerticalScroll(id="fix-preview"):
                yield SafeStatic(preview_text(self.lines))
            if self.refused:
                yield SafeStatic(
                    Text(f"Cannot apply: {self.refused}", style="bold red"), id="dialog-detail"
                )
                keys = Text.assemble(("Esc", "bold"), " cancel")
            else:
                keys = Text.assemble(("a", "bold"), " apply")
                if self.rerun_step:
                    keys.append_text(
                        Text.assemble("   ", ("r", "bold"), f" apply, then rerun {self.rerun_step}")
                    )
                keys.append_text(Text.assemble("   ", ("Esc", "bold"), " cancel"))
            if self.choice[1] > 1:
                keys.append_text(Text.assemble("   ", ("Tab", "bold"), " the next fix"))
            yield SafeStatic(keys, id="dialog-keys")
        yield Footer()

    def action_choose(self, choice: str | None) -> None:
        if choice == "next":
            if self.choice[1] > 1:
                self.dismiss("next")
            return
        if choice is not None and self.refused:
            return
        if choice == "apply_rerun" and not self.rerun_step:
            choice = "apply"
        self.dismiss(choice)
