"""Setup 2/4: find and identify the model files; offer downloads for what is missing."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from wantui.core import hub, models
from wantui.core.errors import WantuiError
from wantui.core.setup_defaults import assign_models
from wantui.tui.safe import SafeStatic
from wantui.tui.screens.setup_base import SetupScreen

ROLES = (
    ("dit", "DiT (low noise)"),
    ("dit_high_noise", "DiT (high noise)"),
    ("vae", "VAE"),
    ("t5", "T5"),
)


def default_models_dir(state: object) -> Path:
    cwd = state.cwd  # type: ignore[attr-defined]
    checkout = state.checkout  # type: ignore[attr-defined]
    for c in (cwd / "models", checkout / "models" if checkout else None, Path.home() / "models"):
        if c is not None and c.is_dir():
            return c
    return cwd / "models"


class ModelsScreen(SetupScreen):
    STEP = 2
    TITLE = "model files"
    BINDINGS = [*SetupScreen.BINDINGS, Binding("ctrl+d", "download", "Download missing")]

    def body(self) -> ComposeResult:
        yield SafeStatic(
            "Folder with the model files (Enter scans it; files are identified from their headers):"
        )
        yield Input(str(default_models_dir(self.state)), id="models-dir")
        yield SafeStatic("", id="files")
        yield SafeStatic("", id="roles")

    def on_mount(self) -> None:
        # typing must reach the folder box at once (nothing else here takes keys)
        self.query_one("#models-dir", Input).focus()
        self.scan(Path(self.query_one("#models-dir", Input).value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.scan(Path(event.value).expanduser())

    @work(thread=True, exclusive=True)
    def scan(self, folder: Path) -> None:
        self.app.call_from_thread(self.say, f"scanning {folder} ...")
        infos = models.scan_models(folder)
        self.app.call_from_thread(self.show, folder, infos)

    def show(self, folder: Path, infos: list) -> None:
        self.state.models_dir = folder
        self.state.models = choice = assign_models(infos)
        files = Text()
        for m in infos[:30]:
            files.append(f"{Path(m.path).name}", style="bold")
            files.append(f"  {m.summary()}\n")
        if not infos:
            files.append(f"no model files in {folder}\n", style="yellow")
        self.query_one("#files", Static).update(files)
        roles = Text()
        for role, label in ROLES:
            m = getattr(choice, role)
            roles.append(f"{label:<17}", style="bold")
            if m is not None:
                roles.append(f"{Path(m.path).name}\n", style="green")
            elif role in choice.missing:
                roles.append(f"missing: download '{choice.missing[role]}' (Ctrl+D)\n", style="red")
            else:
                roles.append("none (optional: one expert is trained)\n", style="dim")
        for p in choice.problems:
            roles.append(f"! {p}\n", style="yellow")
        self.query_one("#roles", Static).update(roles)
        self.say(
            "Ctrl+N: next (dataset)"
            if not choice.missing
            else "Ctrl+D downloads what is missing; Ctrl+N goes on anyway"
        )

    def action_download(self) -> None:
        choice = self.state.models
        if choice is None or not choice.missing:
            self.say("nothing missing")
            return
        self.download(
            list(choice.missing.values()), self.state.models_dir or self.state.cwd / "models"
        )

    @work(thread=True, exclusive=True, group="download")
    def download(self, names: list[str], dest: Path) -> None:
        for name in names:
            self.app.call_from_thread(self.say, f"downloading {name} into {dest} ...")
            try:
                hub.download(name, dest)
            except WantuiError as exc:
                self.app.call_from_thread(self.say, Text(f"download failed: {exc}", style="red"))
                return
        self.app.call_from_thread(self.scan, dest)

    def action_next(self) -> None:
        from wantui.tui.screens.setup_dataset import DatasetScreen

        self.app.push_screen(DatasetScreen(self.state))
