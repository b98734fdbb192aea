"""The probe takes seconds: a progress line on a terminal's stderr (wiped after), nothing
in a pipe; the setup screen shows a loading indicator meanwhile."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.cli_helpers import start_wantui
from tests.fakes_tui.helpers import wait_for

pytestmark = pytest.mark.timeout(120)


def _slow_python(tmp: Path) -> Path:
    """An interpreter that takes a second before it starts (a cold venv on a slow disk)."""
    py = tmp / "slowpy" / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.write_text(f'#!/bin/sh\nsleep 1.2\nexec "{sys.executable}" "$@"\n')
    py.chmod(0o755)
    return py


def _doctor(tmp: Path, py: Path, stderr: int) -> subprocess.Popen[bytes]:
    return start_wantui(
        "doctor", "--python", str(py), "--fast", "--probe-timeout", "60",
        cwd=tmp, stderr=stderr, text=False,
    )  # fmt: skip


def test_doctor_shows_a_progress_line_on_a_terminal_only(tmp_path: Path) -> None:
    py = _slow_python(tmp_path)
    master, slave = pty.openpty()
    p = _doctor(tmp_path, py, slave)
    os.close(slave)
    seen = b""
    while True:
        ready = select.select([master], [], [], 0.5)[0]
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif p.poll() is not None:
            break
    out = p.communicate(timeout=60)[0].decode()
    os.close(master)
    text = seen.decode(errors="replace")
    assert f"wantui: probing {py} (up to 60 s) ... " in text
    last = text.rsplit("\r", 2)
    assert last[-1] == "" and last[-2].strip() == ""  # wiped: nothing left on the line
    assert "python   " in out  # the report itself is unchanged, on stdout
    piped = _doctor(tmp_path, py, subprocess.PIPE)
    _, err = piped.communicate(timeout=60)
    assert b"probing" not in err


def test_setup_shows_a_loading_indicator_while_the_probe_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wantui.core import probe
    from wantui.core.probe.runner import ProbeResult
    from wantui.tui.app import WantuiApp
    from wantui.tui.screens.setup_checkout import CheckoutScreen

    checkout = tmp_path / "musubi-tuner"
    checkout.mkdir()
    (checkout / "wan_train_network.py").write_text("# stand-in\n")
    venv_py = checkout / ".venv" / "bin" / "python"
    venv_py.parent.mkdir(parents=True)
    venv_py.write_text("")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    release = threading.Event()

    def slow_probe(python: str, **_: object) -> ProbeResult:
        release.wait(30)
        return ProbeResult(python=python)

    monkeypatch.setattr(probe, "run_probe", slow_probe)

    async def main() -> None:
        app = WantuiApp(start="setup", cwd=checkout)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            assert isinstance(screen, CheckoutScreen) and screen.choices
            await pilot.press("enter")
            box = screen.query_one("#probe")
            assert await wait_for(pilot, lambda: box.loading)
            assert "probing" in str(screen.query_one("#status").render())
            release.set()
            assert await wait_for(pilot, lambda: screen.state.probe is not None)
            assert not box.loading

    asyncio.run(main())
