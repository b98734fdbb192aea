"""Stopping runs (SIGINT -> SIGTERM -> SIGKILL to the group), orphans, SIGHUP, the lock."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402

from wantui.core.errors import WantuiError
from wantui.core.supervisor import RunLocked, is_locked, start_run, stop_run
from wantui.core.supervisor.rundir import effective_status, pid_alive, read_record

pytestmark = pytest.mark.timeout(60)


def _wait_running(handle, step: str = "latents", timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = handle.record()
        s = rec.step(step)
        log = handle.run_dir / s.log
        if s.state == "running" and log.exists() and b"until stopped" in log.read_bytes():
            return s.pgid
        time.sleep(0.02)
    raise AssertionError(f"step never ran: {handle.record()}")


def _stop_and_time(handle, **kw) -> tuple[object, float]:
    t0 = time.monotonic()
    rec = stop_run(handle.run_dir, **kw)
    return rec, time.monotonic() - t0


def test_sigint_stops_a_hanging_step_and_cancels_the_rest(tmp_path: Path) -> None:
    handle = start_run(make_project(tmp_path, {"latents": "hang"}))
    _wait_running(handle)
    rec, took = _stop_and_time(handle, sigint_grace=30, sigterm_grace=5)
    assert rec.status == "stopped" and took < 30  # SIGINT was enough (no SIGTERM needed)
    assert [s.state for s in rec.steps] == ["stopped", "cancelled", "cancelled"]
    # an uncaught KeyboardInterrupt makes Python die by SIGINT itself
    assert rec.steps[0].signal == signal.SIGINT
    assert not is_locked(tmp_path / "runs")


def test_child_ignoring_sigint_gets_sigterm(tmp_path: Path) -> None:
    handle = start_run(make_project(tmp_path, {"latents": "ignore-sigint"}))
    _wait_running(handle)
    rec, took = _stop_and_time(handle, sigint_grace=0.5, sigterm_grace=5)
    assert rec.status == "stopped" and rec.steps[0].signal == signal.SIGTERM
    assert took > 0.4  # the SIGINT grace period was respected


def test_child_ignoring_everything_gets_sigkill(tmp_path: Path) -> None:
    handle = start_run(make_project(tmp_path, {"latents": "ignore-all"}))
    _wait_running(handle)
    rec, took = _stop_and_time(handle, sigint_grace=0.3, sigterm_grace=0.3)
    assert rec.status == "stopped" and rec.steps[0].signal == signal.SIGKILL


def test_stop_leaves_no_orphan(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    proj = make_project(
        tmp_path / "p", {"train": "grandchild"}, env={"train": {"FAKE_PIDFILE": str(pidfile)}}
    )
    handle = start_run(proj, ["train"])
    pgid = _wait_running(handle, "train")
    grandchild = int(pidfile.read_text())
    assert Path(f"/proc/{grandchild}").exists() and os.getpgid(grandchild) == pgid
    rec = stop_run(handle.run_dir, sigint_grace=2, sigterm_grace=2)
    assert rec.status == "stopped"
    deadline = time.monotonic() + 5
    while pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(grandchild), "grandchild survived the stop"
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_leftovers_of_a_finished_step_are_cleaned(tmp_path: Path) -> None:
    """A launcher that dies leaving its worker behind: the runner ends the worker."""
    pidfile = tmp_path / "gc.pid"
    proj = make_project(
        tmp_path / "p", {"latents": "grandchild"}, env={"latents": {"FAKE_PIDFILE": str(pidfile)}}
    )
    handle = start_run(proj, ["latents"])
    _wait_running(handle)
    rec = handle.record()
    os.kill(rec.steps[0].pid, signal.SIGKILL)  # only the leader dies
    rec = handle.wait(15)
    assert rec.status == "failed" and rec.steps[0].signal == signal.SIGKILL
    assert "left processes behind" in " ".join(rec.steps[0].notes)
    assert not pid_alive(int(pidfile.read_text()))


def test_run_survives_sighup_to_its_starter_session(tmp_path: Path) -> None:
    """The runner and steps are in their own sessions and ignore the hang-up."""
    proj = make_project(tmp_path, {"latents": "hang"})
    handle = start_run(proj, ["latents"])
    pgid = _wait_running(handle)
    rec = handle.record()
    assert os.getsid(rec.runner_pid) != os.getsid(0) and os.getsid(pgid) != os.getsid(0)
    os.kill(rec.runner_pid, signal.SIGHUP)  # what a dying SSH session sends
    time.sleep(0.3)
    assert effective_status(handle.record()) == "running" and pid_alive(rec.runner_pid)
    assert stop_run(handle.run_dir, sigint_grace=3).status == "stopped"


def test_second_run_is_refused_while_one_is_going(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"latents": "hang"})
    handle = start_run(proj, ["latents"])
    _wait_running(handle)
    assert is_locked(tmp_path / "runs")
    with pytest.raises(RunLocked) as exc:
        start_run(proj, ["latents"])
    assert handle.run_id in str(exc.value) and "wantui attach" in str(exc.value)
    assert exc.value.holder["pid"] == handle.record().runner_pid
    stop_run(handle.run_dir, sigint_grace=3)
    # the lock went away with the runner: a new run starts
    h2 = start_run(make_project(tmp_path, {"latents": "ok"}), ["latents"])
    assert h2.wait(20).status == "succeeded"


def test_killed_runner_shows_as_lost_and_can_be_stopped(tmp_path: Path) -> None:
    handle = start_run(make_project(tmp_path, {"latents": "hang"}), ["latents"])
    pgid = _wait_running(handle)
    runner = handle.record().runner_pid
    os.kill(runner, signal.SIGKILL)
    deadline = time.monotonic() + 30  # generous: a killed process on a busy disk takes time
    while (pid_alive(runner) or is_locked(tmp_path / "runs")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert effective_status(handle.record()) == "lost"
    assert not is_locked(tmp_path / "runs")  # the kernel released it
    with pytest.raises(WantuiError, match="lost its runner but its step latents is still running"):
        start_run(make_project(tmp_path, {"latents": "ok"}), ["latents"])
    rec = stop_run(handle.run_dir, sigint_grace=2)  # the orphaned step is still stopped
    assert rec.status == "stopped" and read_record(handle.run_dir).status == "stopped"
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_stop_of_a_finished_run_is_a_no_op(tmp_path: Path) -> None:
    handle = start_run(make_project(tmp_path), ["latents"])
    assert handle.wait(20).status == "succeeded"
    assert stop_run(handle.run_dir).status == "succeeded"
