"""Helpers for the TUI tests: build apps on the demo or on fake projects, wait on state."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
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


def sync(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Runs an async test function to its end (no pytest-asyncio here)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


@contextlib.asynccontextmanager
async def live_pilot(
    project: Any, size: tuple[int, int] = (80, 24), **kw: Any
) -> AsyncIterator[tuple[WantuiApp, Any]]:
    """The app on ``project`` as `wantui` builds it (``live_app``), under Pilot."""
    app = live_app(project, **kw)
    async with app.run_test(size=size) as pilot:
        yield app, pilot


@contextlib.asynccontextmanager
async def replayed_demo(
    tmp: Path, size: tuple[int, int] = (80, 24), **kw: Any
) -> AsyncIterator[tuple[WantuiApp, Path, Any]]:
    """The demo app (``demo_app``) under Pilot, once its replay has run to the end."""
    app, folder = demo_app(tmp, **kw)
    async with app.run_test(size=size) as pilot:
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
        yield app, folder, pilot


async def stop_and_confirm(app: WantuiApp, pilot: Any) -> None:
    """`s`, then `y` in the confirmation: the run ends as stopped."""
    from wantui.tui.dialogs.confirm import ConfirmDialog

    await pilot.press("s")
    await pilot.pause(0.2)
    assert isinstance(app.screen, ConfirmDialog)
    await pilot.press("y")
    assert await wait_for(pilot, lambda: app.feed.finished is not None, timeout=40)
    assert app.feed.finished == "stopped"
