"""Helpers for the TUI tests: build apps on the demo or on fake projects, wait on state."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from wantui.cli.demo import demo_files, demo_source
from wantui.core.project import load_project
from wantui.tui.app import WantuiApp
from wantui.tui.feed import Feed
from wantui.tui.feed_process import ProcessFeed
from wantui.tui.sources import LiveSource


def demo_app(tmp: Path, **kw: Any) -> tuple[WantuiApp, Path]:
    folder = demo_files(tmp / "demo")
    app = WantuiApp(
        feed=Feed(),
        source=demo_source(folder, instant=True),
        project=load_project(folder),
        title="demo",
        gpu=False,
        **kw,
    )
    return app, folder


def live_app(project: Any, **kw: Any) -> WantuiApp:
    # as `wantui` builds it: following and diagnosis in a feed process
    return WantuiApp(
        feed=ProcessFeed(),
        source=LiveSource(project, autostart=True),
        project=project,
        title="live",
        gpu=False,
        **kw,
    )


async def wait_for(pilot: Any, cond: Any, timeout: float = 30.0) -> bool:
    """Let the app run until ``cond()`` holds (True) or ``timeout`` passes (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        await pilot.pause(0.1)
        if cond():
            await pilot.pause(0.25)  # one more flush for the widgets
            return True
    return False
