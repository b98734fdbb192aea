"""Preview of one fix (diff, argv change or download) before anything is written.

Returns "apply", "apply_rerun", "next" (show the finding's next fix) or None. Nothing is applied here: the screen hands the plan
to the fix engine after this dialog says yes."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer

from wantui.tui.safe import SafeStatic, safe_str


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
        preview: str,
        *,
        refused: str | None = None,
        rerun_step: str | None = None,
        choice: tuple[int, int] = (1, 1),
    ) -> None:
        super().__init__()
        self.title_text = title
        self.preview = safe_str(preview)  # a diff of an outside file: controls shown
        self.refused = refused
        self.rerun_step = rerun_step
        self.choice = choice  # (this fix's number, how many the finding has)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            n, of = self.choice
            title = f"{self.title_text}  (fix {n} of {of})" if of > 1 else self.title_text
            yield SafeStatic(Text(title, style="bold"), id="dialog-question")
            with VerticalScroll(id="fix-preview"):
                if self.preview.lstrip().startswith(("---", "@@", "diff")):
                    yield SafeStatic(
                        Syntax(self.preview, "diff", theme="ansi_dark", word_wrap=True)
                    )
                else:
                    yield SafeStatic(Text(self.preview))
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
