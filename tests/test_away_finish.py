"""The meter and the end action (issue 15): figures that match the price and the run's
wall time; on_finish once after a verified LoRA, never after a failure unless on_failure
asks, cancellable during its countdown, never twice."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402
from test_away_notify import (  # noqa: E402
    set_project_key,
    set_train_args,
    wait_runner_gone,
    wantui,
)

from wantui.core.away.meter import clock, meter_for_record, parse_iso, read_meter
from wantui.core.supervisor import read_record

pytestmark = pytest.mark.timeout(120)


def run_dirs(proj: Path) -> list[Path]:
    return sorted(p for p in (proj / "runs").iterdir() if (p / "run.json").is_file())


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "xdg").mkdir()
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "WANTUI_NOTIFY": ""}


def test_meter_arithmetic() -> None:
    r = read_meter(1800, 2.0, 900)
    assert r.spent == pytest.approx(1.0) and r.total_cost == pytest.approx(1.5)
    assert r.line() == "30:00 · $1.00 · ~15:00 left, ~$1.50 in all · at $2/h"
    assert read_meter(3725, None).line() == "1:02:05"
    assert clock(59.6) == "1:00" and parse_iso("2026-01-02T03:04:05.250Z") == pytest.approx(
        1767323045.25
    )


def test_meter_matches_price_and_wall_time(tmp_path, home) -> None:
    proj = tmp_path / "p"
    make_project(proj, steps=("train",), env={"train": {"FAKE_DELAY": "0.1", "FAKE_STEPS": "5"}})
    r = wantui(
        "run", "--force", "--json", "--price", "36", "--project", str(proj), cwd=tmp_path, env=home
    )
    assert r.returncode == 0, r.stderr
    meter = json.loads(r.stdout)["run"]["meter"]
    rec = read_record(run_dirs(proj)[-1])
    wall = parse_iso(rec.ended) - parse_iso(rec.started)
    assert rec.price_per_hour == 36
    assert meter["elapsed_s"] == pytest.approx(wall, abs=0.05) and wall > 0.5
    assert meter["spent"] == pytest.approx(wall * 36 / 3600, abs=1e-4)
    # attach reads the same figures from run.json (the price was kept there)
    a = wantui("attach", "--json", "--project", str(proj), cwd=tmp_path, env=home)
    assert json.loads(a.stdout)["run"]["meter"] == meter
    # the human line at the end says the same
    h = wantui(
        "run",
        "--force",
        "--project",
        str(proj),
        cwd=tmp_path,
        env={**home, "WANTUI_PRICE_PER_HOUR": "3.6"},
    )
    line = next(x for x in h.stderr.splitlines() if x.startswith("wantui: meter: "))
    rec2 = run_dirs(proj)[-1]
    m2 = meter_for_record(read_record(rec2), 3.6)
    assert line == f"wantui: meter: {m2.line()}"


def test_remaining_estimate_from_progress() -> None:
    from wantui.core.away.meter import remaining_from
    from wantui.core.progress import parse_progress

    p = parse_progress("steps:  25%|##  | 10/40 [00:20<01:00,  0.50it/s, avr_loss=0.1]")
    assert remaining_from(p) == 60.0
    q = parse_progress("steps:  25%|##  | 10/40 [00:20<?,  0.50it/s]")
    assert remaining_from(q) == 60.0  # 30 steps at 0.5 it/s


def lora_project(
    tmp_path: Path, home: dict[str, str], *, write_lora: bool = True, mode: str = "ok"
) -> Path:
    proj = tmp_path / "p"
    env = {"FAKE_LORA": str(proj / "out" / "l.safetensors")} if write_lora else {}
    make_project(proj, {"train": mode}, steps=("train",), env={"train": env})
    set_train_args(proj, ["--output_dir", "out", "--output_name", "l"])
    marker = tmp_path / "marker.txt"
    cmd = [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('ran\\n')"]
    set_project_key(proj, "on_finish", cmd)
    set_project_key(proj, "finish_delay", 0)
    return proj


def test_on_finish_runs_once_after_a_verified_lora(tmp_path, home) -> None:
    proj = lora_project(tmp_path, home)
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=home)
    assert r.returncode == 0, r.stderr
    wait_runner_gone(proj)
    marker = tmp_path / "marker.txt"
    assert marker.read_text() == "ran\n"
    run_dir = run_dirs(proj)[-1]
    fin = read_record(run_dir).finish
    assert fin["action"] == "on_finish" and fin["state"] == "done" and fin["returncode"] == 0
    # a second runner over the same record (a restart) does not run it again
    from wantui.core.away.config import load_away
    from wantui.core.away.watch import AwayWatch
    from wantui.core.supervisor.runner import Runner

    runner = Runner(run_dir)
    AwayWatch(runner, load_away(proj)).end_action()
    assert marker.read_text() == "ran\n"


def test_on_finish_not_without_a_lora_file(tmp_path, home) -> None:
    """The fake trainer leaves an empty file where musubi saves the LoRA: not a LoRA."""
    proj = lora_project(tmp_path, home, write_lora=False)
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=home)
    assert r.returncode == 0
    wait_runner_gone(proj)
    assert not (tmp_path / "marker.txt").exists()
    fin = read_record(run_dirs(proj)[-1]).finish
    assert fin["state"] == "skipped" and fin["message"].startswith(
        "on_finish not run: l.safetensors"
    )
    assert "0 bytes" in fin["message"]


def test_on_finish_not_after_a_failure_on_failure_when_asked(tmp_path, home) -> None:
    proj = lora_project(tmp_path, home, mode="oom")
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=home)
    assert r.returncode == 1
    wait_runner_gone(proj)
    assert not (tmp_path / "marker.txt").exists()
    other = tmp_path / "failure.txt"
    set_project_key(
        proj, "on_failure", [sys.executable, "-c", f"open({str(other)!r}, 'a').write('x')"]
    )
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=home)
    wait_runner_gone(proj)
    assert other.read_text() == "x" and not (tmp_path / "marker.txt").exists()


def test_countdown_cancelled_from_the_command_line(tmp_path, home) -> None:
    proj = lora_project(tmp_path, home)
    set_project_key(proj, "finish_delay", 30)
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=home)
    assert r.returncode == 0
    assert "on_finish runs in 30 s: cancel with `wantui run --cancel-finish`" in r.stderr
    c = wantui("run", "--cancel-finish", "--project", str(proj), cwd=tmp_path, env=home)
    assert c.returncode == 0, c.stderr
    t0 = time.monotonic()
    wait_runner_gone(proj)
    assert time.monotonic() - t0 < 10
    assert not (tmp_path / "marker.txt").exists()
    assert read_record(run_dirs(proj)[-1]).finish["state"] == "cancelled"
