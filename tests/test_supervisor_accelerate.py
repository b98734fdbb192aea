"""The real ``accelerate launch`` (CPU torch) around a fake training script: explicit flags
mean no defaults warning, and stop leaves none of accelerate's children behind."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402

from wantui.core.supervisor import start_run, stop_run
from wantui.core.supervisor.rundir import pid_alive

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(importlib.util.find_spec("accelerate") is None, reason="needs accelerate"),
]


def test_accelerate_launch_without_defaults_warning_and_stop_without_orphans(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "worker.pid"
    proj = make_project(
        tmp_path / "p",
        {"train": "grandchild"},
        env={"train": {"FAKE_PIDFILE": str(pidfile)}},
        steps=("train",),
        train_launcher="accelerate",
    )
    handle = start_run(proj)
    log = handle.run_dir / "train.log"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (
        pidfile.exists() and b"until stopped" in log.read_bytes()
    ):
        time.sleep(0.1)
    rec = handle.record()
    launcher, worker = rec.steps[0].pid, int(pidfile.read_text())
    text = log.read_text()
    assert "were not passed to `accelerate launch`" not in text, text
    assert "accelerate.commands.launch" in rec.steps[0].argv
    # accelerate runs the script as its child; the fake script spawned one more below it
    assert Path(f"/proc/{worker}").exists() and pid_alive(launcher)
    done = stop_run(handle.run_dir, sigint_grace=5, sigterm_grace=3)
    assert done.status == "stopped"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (pid_alive(worker) or pid_alive(launcher)):
        time.sleep(0.05)
    assert not pid_alive(worker) and not pid_alive(launcher)
