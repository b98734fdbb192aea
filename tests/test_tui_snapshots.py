"""Layout snapshots of the pipeline screen at 80x24 and 160x48 (pytest-textual-snapshot).

The data is the bundled demo replayed instantly into a fixed folder name, with no clock
in the header, so the pictures are the same on every run. Re-bless deliberately with
``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at the report."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.fakes_tui.helpers import demo_app

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(sys.platform == "win32", reason="fixed POSIX path in the fix preview"),
]


# the fix preview shows the project's path: keep it the same on every run
FIXED = Path("/tmp/wantui-snapshots")


def _app(_tmp: Path):  # noqa: ANN202
    shutil.rmtree(FIXED, ignore_errors=True)
    app, _ = demo_app(FIXED)
    return app


async def _until_finished(pilot) -> None:  # noqa: ANN001
    app = pilot.app
    for _ in range(200):
        await pilot.pause(0.05)
        if app.feed.finished is not None and app.feed.steps["train"].state.value == "failed":
            break
    await pilot.pause(0.4)
    app.clear_notifications()  # toasts come and go with time; the layout is what is tested
    await pilot.pause(0.1)


def test_pipeline_80x24(snap_compare, tmp_path: Path) -> None:  # noqa: ANN001
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=_until_finished)


def test_pipeline_160x48(snap_compare, tmp_path: Path) -> None:  # noqa: ANN001
    assert snap_compare(_app(tmp_path), terminal_size=(160, 48), run_before=_until_finished)


def test_fix_dialog_80x24(snap_compare, tmp_path: Path) -> None:  # noqa: ANN001
    async def open_fix(pilot) -> None:  # noqa: ANN001
        await _until_finished(pilot)
        await pilot.press("a")
        await pilot.pause(0.3)

    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=open_fix)


def test_multirank_replay_80x24(snap_compare, tmp_path: Path) -> None:  # noqa: ANN001
    """An 8-GPU OOM replayed: ranks folded, the rank count in the pane title."""
    from tests.fixture_logs import LOGS, plain_log
    from wantui.tui.app import WantuiApp
    from wantui.tui.feed import Feed
    from wantui.tui.sources import ReplaySource, replay_plan

    log = plain_log(LOGS / "multirank-8-oom.log", tmp_path)
    app = WantuiApp(
        feed=Feed(("train",)),
        source=ReplaySource(replay_plan(log), instant=True),
        title="replay: multirank-8-oom.log",
        gpu=False,
    )

    async def finished(pilot) -> None:  # noqa: ANN001
        for _ in range(200):
            await pilot.pause(0.05)
            if app.feed.finished is not None:
                break
        await pilot.pause(0.4)
        app.clear_notifications()
        await pilot.press("slash", *"Traceback (most", "enter", "n")  # the folded one
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=finished)
