"""``wantui run`` and ``wantui attach`` as the user runs them: real processes, real exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402

from tests.cli_helpers import run_wantui, start_wantui
from wantui.core.supervisor import latest_run, stop_run

pytestmark = pytest.mark.timeout(90)


def wantui(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    if args[:1] == ("run",) and "--stop" not in args:
        # the fake steps have no real arguments, so the preflight would hold every run
        # (that gate is tested in test_run_gate.py)
        args = ("run", "--force", *args[1:])
    return run_wantui(*args, cwd=cwd, timeout=timeout)


def test_run_ok_exits_0_and_echoes_logs(tmp_path: Path) -> None:
    make_project(tmp_path)
    r = wantui("run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "running training / 学習開始" in r.stdout and "avr_loss=" in r.stdout
    assert "step train finished: exit status 0" in r.stderr and "succeeded" in r.stderr


def test_run_says_where_the_lora_was_saved(tmp_path: Path) -> None:
    """As the app does (core.outputs.lora_path): the finished LoRA's path, on stderr and
    in --json; none while training has not saved one."""
    project = make_project(tmp_path)
    out = tmp_path / "out"
    train = project.steps["train"]
    text = (tmp_path / "wantui.toml").read_text()
    args = '"--mixed_precision", "bf16"'
    assert args in text
    more = f'{args}, "--output_dir", "{out}", "--output_name", "my\\u001b[2Jlora"'
    (tmp_path / "wantui.toml").write_text(text.replace(args, more))
    r = wantui("run", "--steps", "latents", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "LoRA saved" not in r.stderr  # no training in this run
    r = wantui("run", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    saved = out / "my\x1b[2Jlora.safetensors"
    assert saved.is_file() and train.name == "train"
    assert json.loads(r.stdout)["run"]["lora"] == str(saved)
    assert r.stderr.rstrip().endswith(f"wantui: LoRA saved: {out}/my\\x1b[2Jlora.safetensors")
    assert "\x1b" not in r.stderr  # the name is the project's: shown, not obeyed


def test_run_failure_exits_1_with_findings(tmp_path: Path) -> None:
    make_project(tmp_path, {"train": "fail"})
    r = wantui("run", "--json", cwd=tmp_path)
    assert r.returncode == 1
    data = json.loads(r.stdout)  # stdout is only the JSON object
    assert data["run"]["status"] == "failed"
    assert [s["state"] for s in data["run"]["steps"]] == ["succeeded", "succeeded", "failed"]
    assert any(f["severity"] == "error" for f in data["findings"])
    assert "error in train:" in r.stderr  # the live finding came before the end


def test_steps_option_and_bad_step(tmp_path: Path) -> None:
    make_project(tmp_path)
    r = wantui("run", "--steps", "train", "--json", cwd=tmp_path)
    assert r.returncode == 0 and [s["name"] for s in json.loads(r.stdout)["run"]["steps"]] == [
        "train"
    ]
    r = wantui("run", "--steps", "trian", cwd=tmp_path)
    assert r.returncode == 2 and "did you mean 'train'" in r.stderr and "Traceback" not in r.stderr


def test_no_project_is_one_line_exit_2(tmp_path: Path) -> None:
    r = wantui("run", "--project", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "wantui.toml" in r.stderr
    r = wantui("attach", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_no_follow_then_attach_and_stop(tmp_path: Path) -> None:
    make_project(tmp_path, {"latents": "hang"})
    r = wantui("run", "--no-follow", cwd=tmp_path)
    assert r.returncode == 0
    run_id = r.stdout.strip()
    # a second run on the same project is refused, naming the running one
    r2 = wantui("run", cwd=tmp_path)
    assert r2.returncode == 2 and run_id in r2.stderr and "wantui attach" in r2.stderr
    # attach from now, then stop from another command
    att = start_wantui("attach", run_id[:10], "--json", cwd=tmp_path)
    time.sleep(1.0)
    r3 = wantui("run", "--stop", "--grace", "3", cwd=tmp_path)
    assert r3.returncode == 0 and "stopped" in r3.stderr
    out, err = att.communicate(timeout=30)
    assert att.returncode == 1, err
    data = json.loads(out)
    assert data["run"]["status"] == "stopped" and data["run"]["run_id"] == run_id
    assert "step latents stopped: killed by SIGINT" in err  # a stop is a stop, not FAILED
    r4 = wantui("run", "--stop", cwd=tmp_path)
    assert r4.returncode == 0 and "no run is going" in r4.stderr


def test_ctrl_c_stops_following_not_the_run(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"latents": "hang"})
    p = start_wantui("run", "--force", cwd=tmp_path)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rec = latest_run(proj)
        if rec and rec.steps[0].state == "running":
            break
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=20)
    assert p.returncode == 130 and "the run goes on" in err
    rec = latest_run(proj)
    assert rec.status == "running" and rec.steps[0].state == "running"
    assert stop_run(rec.run_dir, sigint_grace=3).status == "stopped"


def test_attach_to_finished_run_and_unknown_id(tmp_path: Path) -> None:
    make_project(tmp_path, {"train": "nan"})
    assert wantui("run", "--steps", "train", cwd=tmp_path).returncode == 0
    r = wantui("attach", cwd=tmp_path)
    assert r.returncode == 0 and "avr_loss=nan" in r.stdout
    run_dir = latest_run(tmp_path / "runs").run_dir
    r = wantui("attach", str(run_dir), cwd=Path("/"))  # a run folder works from anywhere
    assert r.returncode == 0 and "avr_loss=nan" in r.stdout
    r = wantui("attach", "19990101", cwd=tmp_path)
    assert r.returncode == 2 and "no such run" in r.stderr


def test_attach_list(tmp_path: Path) -> None:
    make_project(tmp_path)
    assert wantui("run", "--steps", "latents", cwd=tmp_path).returncode == 0
    r = wantui("attach", "--list", "--json", cwd=tmp_path)
    rows = json.loads(r.stdout)["runs"]
    assert r.returncode == 0 and len(rows) == 1 and rows[0]["status"] == "succeeded"
    r = wantui("attach", "--list", cwd=tmp_path)
    assert rows[0]["run_id"] in r.stdout and "latents:succeeded" in r.stdout
