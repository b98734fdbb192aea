"""Stopping only what is provably the run's (issue 10 #6, #7): recorded pids that now
belong to other processes (a reboot, a container restart) are never signalled; the
whole tree of a step is stopped, a setsid grandchild included; a runner's death is not
reported as the training's failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402

from tests.cli_helpers import run_wantui
from wantui.core.supervisor import CollectingSink, follow_run, start_run, stop_run
from wantui.core.supervisor.events import RunFinished, RunNotice, StepExited
from wantui.core.supervisor.procs import boot_id, start_ticks
from wantui.core.supervisor.rundir import effective_status, pid_alive, read_record

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]


@pytest.fixture
def bystander():
    """An unrelated process, leader of its own group: what a reused pid points at."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    yield proc
    proc.kill()
    proc.wait()


def _fake_run(runs: Path, pid: int, **extra: object) -> Path:
    """A run.json that says "running" with runner and step at ``pid``."""
    run_dir = runs / "20250101-000000-000"
    run_dir.mkdir(parents=True)
    step = {"name": "train", "argv": ["python"], "log": "train.log", "state": "running"}
    step.update({"pid": pid, "pgid": pid, **extra.pop("step", {})})  # type: ignore[dict-item]
    rec = {"run_id": run_dir.name, "project": str(runs.parent), "cwd": str(runs.parent)}
    rec.update({"status": "running", "runner_pid": pid, "steps": [step], **extra})
    (run_dir / "run.json").write_text(json.dumps(rec))
    (runs / ".lock").write_text("")
    return run_dir


def _assert_untouched(proc: subprocess.Popen) -> None:
    time.sleep(0.2)
    assert proc.poll() is None, f"an unrelated process was killed (status {proc.returncode})"


def test_stop_after_a_reboot_signals_nothing(tmp_path: Path, bystander) -> None:
    """Another boot id: every recorded pid is someone else's now."""
    run_dir = _fake_run(
        tmp_path / "runs",
        bystander.pid,
        boot_id="00000000-0000-0000-0000-000000000000",
        runner_start_ticks=start_ticks(bystander.pid),
        step={"start_ticks": start_ticks(bystander.pid)},
    )
    assert effective_status(read_record(run_dir)) == "lost"
    rec = stop_run(run_dir, sigint_grace=0.2, sigterm_grace=0.2, runner_grace=0.2)
    _assert_untouched(bystander)
    assert rec.status == "stopped" and "runner was gone" in (rec.message or "")


def test_stop_with_a_reused_pid_signals_nothing(tmp_path: Path, bystander) -> None:
    """Same boot, but the process at the pid started at another time."""
    ticks = start_ticks(bystander.pid)
    assert ticks is not None
    run_dir = _fake_run(
        tmp_path / "runs",
        bystander.pid,
        boot_id=boot_id(),
        runner_start_ticks=ticks - 1,
        step={"start_ticks": ticks - 1},
    )
    assert effective_status(read_record(run_dir)) == "lost"
    stop_run(run_dir, sigint_grace=0.2, sigterm_grace=0.2, runner_grace=0.2)
    _assert_untouched(bystander)


def test_running_record_without_start_times_and_a_free_lock_is_lost(
    tmp_path: Path, bystander
) -> None:
    """An older run.json (no start times): its free project lock says its runner died."""
    run_dir = _fake_run(tmp_path / "runs", bystander.pid)
    assert effective_status(read_record(run_dir)) == "lost"
    stop_run(run_dir, sigint_grace=0.2, sigterm_grace=0.2, runner_grace=0.2)
    _assert_untouched(bystander)


def test_run_records_boot_id_and_start_times(tmp_path: Path) -> None:
    handle = start_run(make_project(tmp_path, {"latents": "ok"}), ["latents"])
    rec = handle.wait(20)
    assert rec.status == "succeeded" and rec.boot_id == boot_id()
    assert isinstance(rec.runner_start_ticks, int) and isinstance(rec.steps[0].start_ticks, int)


def _wait_log(handle, step: str, text: bytes, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    log = handle.run_dir / f"{step}.log"
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_bytes():
            return
        time.sleep(0.02)
    raise AssertionError(f"{step} never printed {text!r}")


# generous: a SIGKILLed process in D state (fsync on a busy disk) takes its time to go
def _wait_dead(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not pid_alive(pid)


def test_stop_ends_a_setsid_grandchild(tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    proj = make_project(
        tmp_path / "p", {"train": "daemon"}, env={"train": {"FAKE_PIDFILE": str(pidfile)}}
    )
    handle = start_run(proj, ["train"])
    _wait_log(handle, "train", b"until stopped")
    daemon = int(pidfile.read_text())
    assert os.getsid(daemon) == daemon  # out of the step's session and group
    rec = stop_run(handle.run_dir, sigint_grace=2, sigterm_grace=2)
    assert rec.status == "stopped"
    assert _wait_dead(daemon), "the setsid grandchild survived --stop"


def test_setsid_grandchild_of_a_step_whose_leader_died_is_cleaned(tmp_path: Path) -> None:
    """The leader dies first: its daemon is reparented (to the runner, a subreaper), and
    the runner ends it before the next step."""
    pidfile = tmp_path / "daemon.pid"
    proj = make_project(
        tmp_path / "p", {"latents": "daemon"}, env={"latents": {"FAKE_PIDFILE": str(pidfile)}}
    )
    handle = start_run(proj, ["latents"])
    _wait_log(handle, "latents", b"until stopped")
    daemon = int(pidfile.read_text())
    os.kill(handle.record().steps[0].pid, signal.SIGKILL)
    rec = handle.wait(20)
    assert rec.status == "failed" and "left processes behind" in " ".join(rec.steps[0].notes)
    assert _wait_dead(daemon), "the daemon outlived its step"


def test_stop_of_a_lost_run_ends_its_setsid_grandchild(tmp_path: Path) -> None:
    """Runner and leader both dead: the daemon, reparented to init, is found by the run's
    marker in its environment."""
    pidfile = tmp_path / "daemon.pid"
    proj = make_project(
        tmp_path / "p", {"train": "daemon"}, env={"train": {"FAKE_PIDFILE": str(pidfile)}}
    )
    handle = start_run(proj, ["train"])
    _wait_log(handle, "train", b"until stopped")
    daemon = int(pidfile.read_text())
    rec = handle.record()
    os.kill(rec.runner_pid, signal.SIGKILL)
    assert _wait_dead(rec.runner_pid)
    os.killpg(rec.steps[0].pgid, signal.SIGKILL)
    assert effective_status(handle.record()) == "lost"
    stop_run(handle.run_dir, sigint_grace=1, sigterm_grace=1)
    assert _wait_dead(daemon), "the daemon of a lost run survived --stop"


def test_dead_runner_is_not_a_failed_step_while_training_runs(tmp_path: Path) -> None:
    """Following a run whose runner was killed: the step still runs, so no StepExited
    (attach said FAILED); a notice says so; once stopped, the exit is 'unknown'."""
    handle = start_run(make_project(tmp_path, {"latents": "hang"}), ["latents"])
    _wait_log(handle, "latents", b"until stopped")
    rec = handle.record()
    os.kill(rec.runner_pid, signal.SIGKILL)
    assert _wait_dead(rec.runner_pid)
    sink = CollectingSink()
    t = threading.Thread(target=follow_run, args=(handle.run_dir, sink), kwargs={"poll": 0.05})
    t.start()
    time.sleep(1.5)
    assert t.is_alive() and not sink.of(StepExited), sink.of(StepExited)
    notices = [n.text for n in sink.of(RunNotice)]
    assert any("still running" in n for n in notices), notices
    os.killpg(rec.steps[0].pgid, signal.SIGKILL)  # the training ends; nobody records how
    t.join(15)
    assert not t.is_alive()
    (exited,) = sink.of(StepExited)
    assert exited.unknown and not exited.ok and not exited.stopped
    assert sink.of(RunFinished)[-1].status == "lost"


def test_live_report_says_killed_not_exit_status_1(tmp_path: Path) -> None:
    """A launcher killed by SIGKILL (returncode None, signal 9): the diagnosis names the
    signal instead of 'exit status 1, no rule'; an unknown end is not FAILED."""
    from wantui.cli.run_cmd import LiveReport
    from wantui.core.supervisor.events import StepOutput, StepStarted

    report = LiveReport(echo=None)
    log = tmp_path / "train.log"
    log.write_text("")
    report(StepStarted("train", ("python",), 1, 1, log))
    report(StepOutput("train", b"INFO: steps: 10%|#  | 10/100\n"))
    report(StepExited("train", None, signal.SIGKILL))
    texts = [f.title + " " + f.message for f in report.findings()]
    assert texts and not any("exit status 1" in t for t in texts), texts
    assert any("SIGKILL" in t for t in texts), texts


def test_wantui_run_reports_a_sigkilled_step_as_killed(tmp_path: Path) -> None:
    """End to end: a step dies by SIGKILL (what the OOM killer does to a launcher); the
    run's diagnosis names the signal instead of 'exit status 1, no rule'."""
    make_project(tmp_path, {"latents": "signal"}, env={"latents": {"FAKE_SIGNAL": "9"}})
    res = run_wantui("run", "--force", "--steps", "latents", cwd=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "killed by SIGKILL" in out and "exit status 1" not in out, out
