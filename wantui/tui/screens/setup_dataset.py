"""Setup 3/4: the dataset folder, its media and captions, and a valid dataset TOML."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Checkbox, Input, Static

from wantui.core.dataset.overview import check_dataset
from wantui.core.errors import WantuiError
from wantui.core.fsutil import atomic_write
from wantui.core.setup_defaults import dataset_toml
from wantui.tui.safe import SafeStatic
from wantui.tui.screens.setup_base import SetupScreen, findings_text

DATASET_FILE = "dataset.toml"


def default_media_dir(cwd: Path) -> str:
    for rel in ("data/videos", "videos", "dataset", "data"):
        if (cwd / rel).is_dir():
            return rel
    return "data/videos"


class DatasetScreen(SetupScreen):
    STEP = 3
    TITLE = "dataset"

    def body(self) -> ComposeResult:
        yield SafeStatic(  # the folder is data: a [bracketed] name must show as typed
            Text(
                f"Media folder (relative to {self.state.cwd}); Enter writes {DATASET_FILE} and checks it:"
            )
        )
        yield Input(default_media_dir(self.state.cwd), id="media-dir", compact=True)
        yield Checkbox("images, not videos", id="images", compact=True)
        yield SafeStatic("", id="scan")

    def on_mount(self) -> None:
        # typing must reach the folder box at once: Enter there writes and checks
        self.query_one("#media-dir", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.write_and_check(event.value.strip(), self.query_one("#images", Checkbox).value)

    @work(thread=True, exclusive=True)
    def write_and_check(self, media: str, images: bool) -> None:
        path = self.state.cwd / DATASET_FILE
        text = dataset_toml(media, images=images)
        try:
            atomic_write(path, text.encode("utf-8"), project_root=self.state.cwd)
        except (WantuiError, OSError) as exc:
            self.app.call_from_thread(self.say, Text(f"cannot write {path}: {exc}", style="red"))
            return
        self.state.dataset_toml = path
        summary, findings = check_dataset(path, self.state.cwd)
        self.app.call_from_thread(self.show, path, summary, findings)

    def show(self, path: Path, summary: str, findings: list) -> None:
        out = Text(f"wrote {path}\n", style="green")
        out.append(summary + "\n")
        out.append_text(findings_text(findings))
        self.query_one("#scan", Static).update(out)
        self.say("Ctrl+N: next (training settings)")

    def action_next(self) -> None:
        if self.state.dataset_toml is None:
            self.say(
                Text("press Enter in the folder box first: the TOML is written then", style="red")
            )
            return
        from wantui.tui.screens.setup_training import TrainingScreen

        self.app.push_screen(TrainingScreen(self.state))
