"""End to end: the real ``wantui run`` in tmux, the session killed (SIGHUP), the run goes on,
and ``wantui attach`` in a new session shows it. Uses its own tmux server socket."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402

from wantui.core.supervisor import latest_run, stop_run
from wantui.core.supervisor.rundir import pid_alive

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux"),
]


def _wait(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def tmux(tmp_path: Path):
    sock = f"wantui-e2e-{os.getpid()}"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", sock, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            check=check,
        )

    yield run
    run("kill-server", check=False)


def test_run_survives_the_tmux_session_and_attach_shows_it(tmp_path: Path, tmux) -> None:
    proj = make_project(
        tmp_path / "proj",
        {"train": "slow"},
        env={"train": {"FAKE_DELAY": "0.15", "FAKE_STEPS": "40"}},
    )
    wantui = f"{sys.executable} -m wantui"
    env = f"NO_COLOR=1 PYTHONPATH={Path(__file__).resolve().parent.parent}"
    tmux(
        "new-session",
        "-d",
        "-s",
        "train",
        "-x",
        "120",
        "-y",
        "30",
        # --force: the fake steps have no real arguments, so the preflight would ask first
        f"cd {proj.root} && {env} {wantui} run --force --steps train",
    )
    rec = _wait(
        lambda: (r := latest_run(proj)) and r.steps[0].state == "running" and r,
        30,
        "the train step to start",
    )
    log = rec.run_dir / "train.log"
    _wait(lambda: log.exists() and b"epoch 1/1" in log.read_bytes(), 20, "training output")
    follower_pids = tmux("list-panes", "-t", "train", "-F", "#{pane_pid}").stdout.split()

    tmux("kill-session", "-t", "train")  # the SSH drop: SIGHUP to everything in the pane
    _wait(lambda: not any(pid_alive(int(p)) for p in follower_pids), 10, "the pane's shell to die")
    size_at_kill = log.stat().st_size
    rec = latest_run(proj)
    assert rec.status == "running" and pid_alive(rec.runner_pid) and pid_alive(rec.steps[0].pid)
    _wait(lambda: log.stat().st_size > size_at_kill, 20, "the log to keep growing after SIGHUP")

    # attach from a fresh session, while it still runs
    tmux(
        "new-session",
        "-d",
        "-s",
        "attach",
        "-x",
        "200",
        "-y",
        "50",
        f"cd {proj.root} && {env} {wantui} attach; sleep 60",
    )

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", "attach", "-S", "-200").stdout

    _wait(lambda: "avr_loss=" in screen(), 30, "attach to show the training output")
    final = _wait(lambda: (r := latest_run(proj)) and r.finished and r, 60, "the run to finish")
    assert final.status == "succeeded" and final.steps[0].returncode == 0
    _wait(lambda: f"run {final.run_id} succeeded" in screen(), 30, "attach to report the end")
    assert "saving checkpoint" in log.read_text()


def test_stop_from_another_terminal_while_attached(tmp_path: Path, tmux) -> None:
    pidfile = tmp_path / "gc.pid"
    proj = make_project(
        tmp_path / "proj", {"train": "grandchild"}, env={"train": {"FAKE_PIDFILE": str(pidfile)}}
    )
    env = f"NO_COLOR=1 PYTHONPATH={Path(__file__).resolve().parent.parent}"
    tmux(
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "120",
        "-y",
        "30",
        f"cd {proj.root} && {env} {sys.executable} -m wantui run --force --steps train; sleep 60",
    )
    _wait(lambda: pidfile.exists() and pidfile.read_text(), 30, "the grandchild")
    grandchild = int(pidfile.read_text())
    rec = latest_run(proj)
    assert stop_run(rec.run_dir, sigint_grace=3).status == "stopped"
    _wait(lambda: not pid_alive(grandchild), 10, "the grandchild to be gone")
    _wait(
        # the whole scrollback: the findings printed after the stop can push it off screen
        lambda: "stopped" in tmux("capture-pane", "-p", "-S", "-", "-t", "t").stdout,
        20,
        "the follower to report the stop",
    )
