"""The app's side of issue 15: the header shows the meter and the end action's countdown,
and `c` cancels the countdown (the runner then does not run on_finish)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.fakeproject import make_project
from tests.fakes_tui.helpers import live_app, wait_for
from tests.test_away_notify import set_project_key, set_train_args
from wantui.core.project import load_project
from wantui.core.supervisor import read_record
from wantui.core.supervisor.rundir import pid_alive

pytestmark = pytest.mark.timeout(120)


def test_header_meter_countdown_and_cancel(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("WANTUI_NOTIFY", raising=False)
    monkeypatch.delenv("WANTUI_PRICE_PER_HOUR", raising=False)
    proj = tmp_path / "p"
    lora = proj / "out" / "l.safetensors"
    make_project(proj, steps=("train",), env={"train": {"FAKE_LORA": str(lora)}})
    set_train_args(proj, ["--output_dir", "out", "--output_name", "l"])
    marker = tmp_path / "ran.txt"
    set_project_key(proj, "on_finish", [sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    set_project_key(proj, "finish_delay", 20)
    set_project_key(proj, "price_per_hour", 7.2)
    app = live_app(load_project(proj))

    async def drive() -> tuple[str, str, Path]:
        async with app.run_test(size=(120, 30)) as pilot:
            assert await wait_for(pilot, lambda: app.feed.finished is not None)
            screen = app.screen
            assert await wait_for(pilot, lambda: "on_finish in" in str(screen.sub_title))
            shown = str(screen.sub_title)
            await pilot.press("c")
            await pilot.pause(0.5)
            return shown, str(screen.sub_title), Path(app.screen.source.run_dir)

    shown, _after, run_dir = asyncio.run(drive())
    assert "at $7.2/h" in shown and "(c: cancel)" in shown, shown
    rec = read_record(run_dir)
    assert rec.price_per_hour == 7.2
    deadline = time.monotonic() + 20
    while pid_alive(rec.runner_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert read_record(run_dir).finish["state"] == "cancelled"
    assert not marker.exists()
