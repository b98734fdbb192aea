"""Runs with real child processes: the record, the logs, the events, and every fault."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402

from wantui.core.supervisor import (
    CollectingSink,
    RunFinished,
    RunNotice,
    StepExited,
    StepSkipped,
    StepStarted,
    find_run,
    follow_run,
    latest_run,
    list_runs,
    start_run,
)
from wantui.core.supervisor.rundir import read_record

pytestmark = pytest.mark.timeout(60)


def _run(project, steps=None, **kw) -> tuple[CollectingSink, object]:
    handle = start_run(project, steps, **kw)
    sink = CollectingSink()
    rec = follow_run(handle.run_dir, sink, poll=0.05)
    return sink, rec


def test_ok_pipeline_records_everything(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    sink, rec = _run(proj)
    assert rec.status == "succeeded"
    assert [s.state for s in rec.steps] == ["succeeded"] * 3
    for s in rec.steps:
        assert s.pid and s.pgid == s.pid  # own process group
        assert s.returncode == 0 and s.started and s.ended
        assert s.env["PYTHONUNBUFFERED"] == "1"
    assert rec.runner_pid and rec.started and rec.ended
    run_dir = tmp_path / "runs" / rec.run_id
    data = json.loads((run_dir / "run.json").read_text())
    assert data["status"] == "succeeded" and data["steps"][2]["argv"][1].endswith(
        "wan_train_network.py"
    )
    train_log = (run_dir / "train.log").read_bytes()
    assert b"avr_loss=" in train_log and "学習開始".encode() in train_log
    assert sink.output("train") == train_log  # the follower saw every byte
    assert sink.output("latents") == (run_dir / "latents.log").read_bytes()
    kinds = [type(e).__name__ for e in sink.events if not type(e).__name__ == "StepOutput"]
    assert kinds == ["StepStarted", "StepExited"] * 3 + ["RunFinished"]
    assert sink.of(RunFinished)[0].status == "succeeded"


def test_failed_step_stops_the_pipeline(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"te": "fail"})
    sink, rec = _run(proj)
    assert rec.status == "failed"
    assert [s.state for s in rec.steps] == ["succeeded", "failed", "cancelled"]
    assert rec.steps[1].returncode == 1 and "step te failed" in rec.steps[2].message
    exited = sink.of(StepExited)
    assert [(e.step, e.returncode) for e in exited] == [("latents", 0), ("te", 1)]
    assert b"FileNotFoundError" in sink.output("te")


def test_missing_interpreter_and_script(tmp_path: Path) -> None:
    proj = make_project(tmp_path / "a", python=str(tmp_path / "nope" / "python"))
    sink, rec = _run(proj, ["latents"])
    assert rec.status == "failed"
    ex = sink.of(StepExited)[0]
    assert ex.returncode is None and "cannot start: interpreter not found" in ex.message
    assert str(tmp_path / "nope" / "python") in ex.message

    proj = make_project(tmp_path / "b")
    proj.steps["te"].script = "no_such_script.py"
    sink, rec = _run(proj, ["te"])
    ex = sink.of(StepExited)[0]
    assert (
        rec.status == "failed"
        and "script not found" in ex.message
        and "no_such_script.py" in ex.message
    )


def test_death_by_signal_is_recorded(tmp_path: Path) -> None:
    proj = make_project(
        tmp_path, {"latents": "signal"}, env={"latents": {"FAKE_SIGNAL": str(int(signal.SIGSEGV))}}
    )
    sink, rec = _run(proj, ["latents"])
    ex = sink.of(StepExited)[0]
    assert rec.status == "failed" and ex.returncode is None and ex.signal == signal.SIGSEGV
    assert b"about to die" in sink.output()


def test_binary_and_unended_output_pass_through_untouched(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"latents": "binary", "te": "noeol"})
    sink, rec = _run(proj, ["latents", "te"])
    assert rec.status == "succeeded"
    assert bytes(range(256)) in sink.output("latents") and b"\xc3\x28" in sink.output("latents")
    assert sink.output("te") == b"x" * 200_000


def test_flood_is_kept_whole(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"latents": "flood"}, env={"latents": {"FAKE_LINES": "200000"}})
    sink, rec = _run(proj, ["latents"])
    out = sink.output("latents")
    assert rec.status == "succeeded" and out.count(b"\n") == 200_000
    assert out.endswith(b"steps: 199999 line of flood output\n")
    # events are bounded chunks, not one huge blob
    assert max(len(e.data) for e in sink.events if hasattr(e, "data")) <= 64 * 1024


def test_skip_cached_and_list_runs(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    cache = tmp_path / "cache" / "vid"
    cache.mkdir(parents=True)
    (cache / "a_0096x0064_wan.safetensors").write_bytes(b"x")
    sink, rec = _run(proj, skip_cached=True)
    assert [s.state for s in rec.steps] == ["skipped", "succeeded", "succeeded"]
    assert (
        sink.of(StepSkipped)[0].step == "latents"
        and "1 latent cache" in sink.of(StepSkipped)[0].reason
    )
    _, rec2 = _run(proj, ["train"])
    runs = list_runs(proj)
    assert [r.run_id for r in runs] == sorted(r.run_id for r in runs) == [rec.run_id, rec2.run_id]
    assert latest_run(proj).run_id == rec2.run_id
    assert find_run(proj, rec.run_id[:-1] + rec.run_id[-1]).run_id == rec.run_id


def test_follow_a_finished_run_replays_it(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"train": "nan"})
    first, rec = _run(proj, ["train"])
    again = CollectingSink()
    follow_run(tmp_path / "runs" / rec.run_id, again)
    assert again.output() == first.output() and b"avr_loss=nan" in again.output()


def test_deleted_log_is_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    proj = make_project(
        tmp_path, {"latents": "slow"}, env={"latents": {"FAKE_DELAY": "0.05", "FAKE_STEPS": "3"}}
    )
    handle = start_run(proj, ["latents"])
    log = handle.run_dir / "latents.log"
    deadline = time.monotonic() + 10
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    log.unlink()
    sink = CollectingSink()
    rec = follow_run(handle.run_dir, sink, poll=0.05)
    notices = sink.of(RunNotice)
    assert rec.status == "succeeded"
    assert notices and "log file deleted" in notices[0].text and str(log) in notices[0].text


def test_follower_keeps_reading_a_log_deleted_under_it(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"latents": "slow"}, env={"latents": {"FAKE_DELAY": "0.1"}})
    handle = start_run(proj, ["latents"])
    sink = CollectingSink()
    t = threading.Thread(target=follow_run, args=(handle.run_dir, sink), kwargs={"poll": 0.05})
    t.start()
    deadline = time.monotonic() + 10
    while not sink.output() and time.monotonic() < deadline:
        time.sleep(0.02)
    (handle.run_dir / "latents.log").unlink()
    t.join(20)
    # the child went on writing to the unlinked file and the open follower still read it
    assert b"Encoding dataset" in sink.output()
    assert any("log file deleted" in n.text for n in sink.of(RunNotice))


@pytest.fixture
def tiny_fs(tmp_path: Path):
    """A 1 MiB tmpfs (needs root and mount rights, else the test is skipped)."""
    import subprocess

    where = tmp_path / "tiny"
    where.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_full_disk_while_writing_the_log(tmp_path: Path, tiny_fs: Path) -> None:
    """A step floods a log on a 1 MiB file system: it fails on its own writes, and the run
    still records the failure, with a message saying the disk is full."""
    proj = make_project(
        tmp_path / "p", {"latents": "flood", "te": "ok"}, env={"latents": {"FAKE_LINES": "200000"}}
    )
    proj.runs_dir = str(tiny_fs)
    handle = start_run(proj, ["latents", "te"])
    sink = CollectingSink()
    rec = follow_run(handle.run_dir, sink, poll=0.05)
    assert rec.status == "failed", rec
    step = rec.steps[0]
    assert step.state == "failed" and step.returncode not in (0, None)
    assert step.message and "is full" in step.message
    assert rec.steps[1].state == "cancelled"
    ex = sink.of(StepExited)[0]
    assert "is full" in (ex.message or "")
    # everything the child managed to write was followed
    assert sink.output("latents") == (handle.run_dir / "latents.log").read_bytes()
    assert len(sink.output("latents")) > 500_000


def test_run_json_write_failure_does_not_kill_the_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = make_project(tmp_path)
    handle = start_run(proj, ["latents"])
    handle.wait(20)
    from wantui.core.supervisor import runner as runner_mod

    r = runner_mod.Runner(handle.run_dir)
    r.record.steps[0].state = "pending"
    calls = {"n": 0}
    real = runner_mod.write_record

    def flaky(run_dir, record):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OSError(28, "No space left on device")
        real(run_dir, record)

    monkeypatch.setattr(runner_mod, "write_record", flaky)
    assert r.run() == 0
    assert read_record(handle.run_dir).steps[0].state == "succeeded"  # final state written later


def test_broken_run_json_is_one_clear_error(tmp_path: Path) -> None:
    from wantui.core.errors import WantuiError

    d = tmp_path / "runs" / "20260101-000000-000"
    d.mkdir(parents=True)
    (d / "run.json").write_bytes(b"\x00\xff{not json")
    with pytest.raises(WantuiError, match="broken run file") as exc:
        read_record(d)
    assert str(d / "run.json") in str(exc.value)
    assert list_runs(tmp_path / "runs") == []  # skipped, not fatal


def test_started_event_has_pids_and_log(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    sink, rec = _run(proj, ["train"])
    st = sink.of(StepStarted)[0]
    assert st.pid == rec.steps[0].pid and st.pgid == st.pid and st.log_path.name == "train.log"
    assert st.argv[0] == sys.executable


def test_polling_fallback_without_watchfiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # import fails: poll instead
    proj = make_project(tmp_path, {"latents": "slow"}, env={"latents": {"FAKE_DELAY": "0.02"}})
    sink, rec = _run(proj, ["latents"])
    assert rec.status == "succeeded" and b"Encoding dataset" in sink.output()


def test_disk_full_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wantui.core.supervisor import procs

    class Full:
        f_bavail, f_frsize = 3, 4096

    assert procs.disk_note(tmp_path) is None
    monkeypatch.setattr(procs.os, "statvfs", lambda p: Full())
    note = procs.disk_note(tmp_path)
    assert note and "full" in note and str(tmp_path) in note and "12288 bytes free" in note


def test_cli_sink_survives_every_fault_output(tmp_path: Path) -> None:
    """The live diagnosis path (LiveReport) on binary, unended and flooding output."""
    from wantui.cli.run_cmd import LiveReport

    proj = make_project(
        tmp_path,
        {"latents": "binary", "te": "noeol", "train": "flood"},
        env={"train": {"FAKE_LINES": "20000"}},
    )
    handle = start_run(proj)
    report = LiveReport(echo=None)
    rec = follow_run(handle.run_dir, report, poll=0.05)
    assert rec.status == "succeeded" and report.finished.status == "succeeded"
    assert set(report.exits) == {"latents", "te", "train"}
    # the findings come from the runner's diagnosis, which read every step to its end
    assert report.tail is not None and report.tail.ended


@pytest.mark.parametrize("pythonpath", [None, "/opt/user/lib"])
def test_step_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pythonpath: str | None
) -> None:
    """Steps see PYTHONUNBUFFERED, their own env, and the caller's PYTHONPATH (not wantui's)."""
    if pythonpath is None:
        monkeypatch.delenv("PYTHONPATH", raising=False)
    else:
        monkeypatch.setenv("PYTHONPATH", pythonpath)
    proj = make_project(tmp_path, {"latents": "argv"})
    proj.steps["latents"].args = ["--vae", "models/vae.safetensors"]
    sink, rec = _run(proj, ["latents"])
    out = sink.output().decode()
    assert "ENV PYTHONUNBUFFERED=1" in out
    assert f"ENV PYTHONPATH={pythonpath or '<unset>'}\n" in out
    assert f"ARGV --dataset_config {tmp_path / 'dataset.toml'} --vae models/vae.safetensors" in out


def test_follow_from_now_skips_history(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"latents": "slow"}, env={"latents": {"FAKE_DELAY": "0.1"}})
    handle = start_run(proj, ["latents"])
    log = handle.run_dir / "latents.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
        log.exists() and b"found 2 videos" in log.read_bytes()
    ):
        time.sleep(0.02)
    sink = CollectingSink()
    follow_run(handle.run_dir, sink, from_start=False, poll=0.05)
    assert b"glob videos" not in sink.output() and b"Encoding dataset" in sink.output()
