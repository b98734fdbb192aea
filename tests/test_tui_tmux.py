"""End to end in a real terminal: the real `wantui` in tmux starts a run, the tmux session
is killed (SIGHUP, as when SSH drops), the run goes on, and `wantui attach` shows it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.fakeproject import make_project

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10).stdout


def _wait(cond, timeout: float) -> bool:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return False


def _status(project_dir: Path) -> str | None:
    runs = sorted((project_dir / "runs").glob("*/run.json"))
    if not runs:
        return None
    try:
        return json.loads(runs[-1].read_text())["status"]
    except (OSError, ValueError, KeyError):
        return None


def test_run_survives_sighup_and_attach_shows_it(tmp_path: Path) -> None:
    proj = tmp_path / "p"
    make_project(proj, env={"train": {"FAKE_STEPS": "40", "FAKE_DELAY": "0.1"}})
    session = f"wantui-test-{os.getpid()}"
    root = Path(__file__).resolve().parent.parent
    env_cmd = f"cd {proj} && TERM=xterm-256color PYTHONPATH={root} {sys.executable} -m wantui"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", env_cmd], check=True
    )
    try:
        assert _wait(lambda: "Run" in _tmux("capture-pane", "-p", "-t", session), 30), _tmux(
            "capture-pane", "-p", "-t", session
        )
        _tmux("send-keys", "-t", session, "g")
        # the fake steps have no real arguments: the preflight asks before running
        assert _wait(lambda: "Run anyway?" in _tmux("capture-pane", "-p", "-t", session), 30)
        _tmux("send-keys", "-t", session, "y")
        assert _wait(lambda: _status(proj) == "running", 30)
        screen = _tmux("capture-pane", "-p", "-t", session)
        assert "cache latents" in screen
    finally:
        _tmux("kill-session", "-t", session)  # SIGHUP to wantui, as a dropped SSH link does
    assert _status(proj) == "running"  # the runner is detached: the TUI's end is not its end
    assert _wait(lambda: _status(proj) == "succeeded", 60), _status(proj)
    out = subprocess.run(
        [sys.executable, "-m", "wantui", "attach", "--project", str(proj)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
    )
    assert out.returncode == 0, out.stderr
    assert "testlora.safetensors" in out.stdout + out.stderr
