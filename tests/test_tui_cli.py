"""The TUI's commands and sources without a screen: replay plans and timing, bad input,
the demo bundle, `wantui tui` choosing setup/pipeline/read-only, and `wantui serve`."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from importlib import resources
from pathlib import Path

import pytest

from tests.fakes.fakeproject import make_project
from tests.serve_helpers import free_port, printed_url, start_serve
from wantui.cli.main import main
from wantui.cli.serve import exposure_warning
from wantui.core.errors import WantuiError
from wantui.core.supervisor import CollectingSink, RunFinished, StepExited, StepOutput
from wantui.tui.sources import ReplaySource, replay_plan

pytestmark = pytest.mark.timeout(60)


def test_demo_ships_as_package_data() -> None:
    demo = resources.files("wantui") / "data" / "demo"
    for name in (
        "wantui.toml",
        "dataset.toml",
        "run/run.json",
        "run/latents.log",
        "run/te.log",
        "run/train.log",
    ):
        assert (demo / name).is_file(), name


def test_replay_plan_of_a_run_folder_and_of_a_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text("x\n")
    (run / "latents.log").write_text("y\n")
    (run / "run.json").write_text(
        json.dumps({"status": "failed", "steps": [{"name": "train", "returncode": 1}]})
    )
    plan = replay_plan(run)
    assert [s.step for s in plan.steps] == ["latents", "train"]
    assert plan.steps[1].returncode == 1 and plan.status == "failed"
    single = replay_plan(run / "train.log", "te")
    assert [s.step for s in single.steps] == ["te"]


@pytest.mark.parametrize("make", ["missing", "empty-dir", "bad-json", "bad-step"])
def test_replay_bad_input_is_one_line(
    tmp_path: Path, make: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "x"
    argv = ["replay", str(target)]
    if make == "empty-dir":
        target.mkdir()
    elif make == "bad-json":
        target.mkdir()
        (target / "train.log").write_text("x\n")
        (target / "run.json").write_text("{not json")
    elif make == "bad-step":
        target.write_text("x\n")
        argv += ["--step", "nope"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors exit directly, with code 2
        code = int(exc.code)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and "wantui" in err
    if make != "bad-step":
        with pytest.raises(WantuiError):
            replay_plan(target)


def test_replay_real_timing_from_timestamps(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    log.write_text(
        "2025-03-01 12:00:00 INFO start\n2025-03-01 12:00:01 INFO one second later\n"
        "2025-03-01 12:00:01 INFO same second\n"
    )
    sink = CollectingSink()
    t = time.perf_counter()
    ReplaySource(replay_plan(log), speed=4).run(sink)
    took = time.perf_counter() - t
    assert 0.2 <= took < 2.0  # one real second at 4x
    assert b"one second later" in sink.output("train")
    assert sink.of(StepExited)[0].returncode is None
    assert sink.of(RunFinished)[0].status == "succeeded"


def test_replay_without_timestamps_is_quick_and_complete(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_bytes(
        b"".join(b"line %d\n" % i for i in range(5000)) + b"steps: 1/2\rsteps: 2/2 tail"
    )
    sink = CollectingSink()
    t = time.perf_counter()
    ReplaySource(replay_plan(log), tick_s=0.001, lines_per_tick=500).run(sink)
    assert time.perf_counter() - t < 3
    assert sink.output("train") == log.read_bytes()  # every byte, in order
    assert len(sink.of(StepOutput)) > 3


def test_tui_cmd_setup_pipeline_and_read_only(tmp_path: Path) -> None:
    from wantui.cli.tui_cmd import build_app
    from wantui.core.supervisor import start_run, stop_run

    assert build_app(tmp_path).start == "setup"
    proj = tmp_path / "p"
    project = make_project(proj, {"latents": "hang"}, steps=("latents",))
    app = build_app(proj)
    assert app.start == "pipeline" and not app.read_only
    handle = start_run(project, ["latents"])
    try:
        live = build_app(proj)
        assert live.read_only and live.source.run_dir == handle.run_dir
    finally:
        stop_run(handle.run_dir, sigint_grace=2, sigterm_grace=2)


def test_serve_warns_when_exposed() -> None:
    assert exposure_warning("127.0.0.1") is None and exposure_warning("localhost") is None
    warning = exposure_warning("0.0.0.0")
    assert warning and "WARNING" in warning and "ssh -L" in warning


def test_serve_listens_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    proc = start_serve(tmp_path, port, stderr=subprocess.PIPE)
    try:
        url = printed_url(proc)
        assert url, "serve printed no URL with its token"
        body = b""
        for _ in range(100):  # the URL is printed just before the socket listens
            try:
                body = urllib.request.urlopen(url, timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        assert b"wantui" in body
        listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
        rows = [r for r in listening.splitlines() if f":{port} " in r]
        assert rows and all("127.0.0.1" in r for r in rows), rows
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "WARNING" not in (proc.stderr.read() if proc.stderr else "")


def test_gpu_meter_reads_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wantui.tui.widgets.gpu_meter import read_gpus

    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho '97, 62668, 81559'\necho '3, 1024, 81559'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert read_gpus() == "GPU0 97% 61.2/79.6 GiB  GPU1 3% 1.0/79.6 GiB"
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert read_gpus() is None
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert read_gpus() is None
