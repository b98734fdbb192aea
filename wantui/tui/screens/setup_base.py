"""What the four guided-setup screens share: the choices so far, keys, a status line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from wantui.core.finding import Finding
from wantui.tui.safe import SafeStatic


@dataclass
class SetupState:
    """The user's answers, carried from screen to screen."""

    cwd: Path
    checkout: Path | None = None
    python: str | None = None
    probe: Any = None  # ProbeResult
    models_dir: Path | None = None
    models: Any = None  # setup_defaults.ModelChoice
    dataset_toml: Path | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def vram_gib(self) -> float | None:
        gpus = ((self.probe.data if self.probe else {}).get("torch") or {}).get("gpus") or []
        return gpus[0]["total_bytes"] / 2**30 if gpus and gpus[0].get("total_bytes") else None

    @property
    def gpu_count(self) -> int:
        return (
            len(((self.probe.data if self.probe else {}).get("torch") or {}).get("gpus") or []) or 1
        )

    @property
    def bitsandbytes_ok(self) -> bool:
        bnb = (self.probe.data if self.probe else {}).get("bitsandbytes") or {}
        # unknown (no probe, or no GPU to try it on) counts as usable: pip installs it
        return bool(bnb.get("importable", True)) and bnb.get("cuda_ok") is not False


class SetupScreen(Screen[None]):
    """Base: ``n`` next, ``b`` back, ``q`` quit; subclasses fill ``body()``."""

    STEP = 0
    TITLE = ""
    BINDINGS = [
        Binding("ctrl+n", "next", "Next"),
        Binding("escape", "back", "Back"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, state: SetupState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(classes="setup-body"):
            yield SafeStatic(
                Text(f"Setup {self.STEP}/4 · {self.TITLE}", style="bold"), classes="setup-title"
            )
            yield from self.body()
            yield SafeStatic("", id="status")
        yield Footer(compact=True, show_command_palette=False)

    def body(self) -> ComposeResult:
        yield from ()

    def say(self, text: str | Text) -> None:
        # a plain str is data (paths, error text): never parsed as markup
        self.query_one("#status", Static).update(Text(text) if isinstance(text, str) else text)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    def action_next(self) -> None:  # overridden
        pass


def findings_text(findings: list[Finding], limit: int = 8) -> Text:
    out = Text()
    for f in findings[:limit]:
        style = {"error": "bold red", "warning": "yellow"}.get(f.severity.value, "cyan")
        out.append(f"{f.severity.value[0].upper()} ", style=style)
        out.append(f.title + "\n")
    if len(findings) > limit:
        out.append(f"... and {len(findings) - limit} more\n", style="dim")
    return out
