"""The wantui Textual app: guided setup when there is no project, else the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App

from wantui.tui.safe import safe_str

if TYPE_CHECKING:
    from wantui.core.project import Project
    from wantui.tui.feed import Feed


class WantuiApp(App[int]):
    """One app, two ways in: ``setup`` (no wantui.toml yet) or ``pipeline`` (a run, live
    or replayed). Everything else happens in screens."""

    CSS_PATH = "app.tcss"
    TITLE = "wantui"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        *,
        start: str = "pipeline",
        feed: Feed | None = None,
        source: Any = None,
        project: Project | None = None,
        cwd: Path | None = None,
        title: str = "pipeline",
        read_only: bool = False,
        gpu: bool = True,
        watch_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.start = start
        self.feed = feed
        self.source = source
        self.project = project
        self.cwd = cwd or Path.cwd()
        self.pipeline_title = title
        self.read_only = read_only
        self.gpu = gpu
        self.watch_dir = watch_dir

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification as plain text: they carry file names, log lines and error
        text, where ``[rank0]:`` or ``[x]`` is data, not markup (``markup`` is ignored)."""
        # ... and may hold controls (an ESC in a file name): shown as escapes, never sent
        super().notify(
            safe_str(message),
            title=safe_str(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def on_mount(self) -> None:
        if self.start == "setup":
            from wantui.tui.screens.setup_checkout import CheckoutScreen

            self.push_screen(CheckoutScreen(self.cwd))
        else:
            self.open_pipeline()

    def open_pipeline(self, **overrides: Any) -> None:
        from wantui.tui.screens.pipeline import PipelineScreen

        for key, value in overrides.items():
            setattr(self, key, value)
        if self.feed is None:
            from wantui.tui.feed_process import ProcessFeed

            self.feed = ProcessFeed()  # following and diagnosis off the UI's GIL
        feed = self.feed
        self.feed = feed
        self.push_screen(
            PipelineScreen(
                feed,
                self.source,
                project=self.project,
                title=self.pipeline_title,
                read_only=self.read_only,
                gpu=self.gpu,
                watch_dir=self.watch_dir,
            )
        )
