"""Notifications from a real detached run (issue 15): a CUDA OOM names cuda-oom and the
fix, a finished run names its LoRA, a dead target never holds the run, and the URL's
password is in no output and no file of wantui."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402
from webhook import Hook  # noqa: E402

from tests.cli_helpers import cli_env, run_wantui
from wantui.core.supervisor import latest_run
from wantui.core.supervisor.rundir import pid_alive

pytestmark = pytest.mark.timeout(120)
PASSWORD = "Pw-s3cr3t-9x7q"


def add_toml(root: Path, text: str) -> None:
    (root / "wantui.toml").write_text((root / "wantui.toml").read_text() + "\n" + text)


def set_project_key(root: Path, key: str, value: object) -> None:
    import tomlkit

    doc = tomlkit.parse((root / "wantui.toml").read_text())
    doc.setdefault("project", tomlkit.table())[key] = value
    (root / "wantui.toml").write_text(tomlkit.dumps(doc))


def set_train_args(root: Path, args: list[str]) -> None:
    import tomlkit

    doc = tomlkit.parse((root / "wantui.toml").read_text())
    doc["steps"]["train"]["args"] = args
    (root / "wantui.toml").write_text(tomlkit.dumps(doc))


def wantui(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_wantui(*args, cwd=cwd, env=cli_env(**env), timeout=90)


def wait_runner_gone(root: Path, timeout: float = 60) -> None:
    rec = latest_run(root / "runs")
    assert rec is not None
    deadline = time.monotonic() + timeout
    while pid_alive(rec.runner_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(rec.runner_pid), "the runner did not exit"


def files_holding(root: Path, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    cfg = tmp_path / "xdg"
    cfg.mkdir()
    return {"XDG_CONFIG_HOME": str(cfg)}


def test_oom_run_sends_one_notification_naming_cuda_oom(tmp_path, hook, home) -> None:
    proj = tmp_path / "p"
    make_project(proj, {"train": "oom"}, steps=("train",))
    add_toml(proj, "[notify]\nidle_minutes = 0\n")
    env = {**home, "WANTUI_NOTIFY": hook.url("alice", PASSWORD), "WANTUI_PRICE_PER_HOUR": "1.20"}
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=env)
    assert r.returncode == 1, r.stderr
    wait_runner_gone(proj)
    got = hook.wait(1)
    assert len(got) == 1, got
    msg = got[0]
    assert msg["auth"] == f"alice:{PASSWORD}"  # the URL was expanded and used
    assert "cuda-oom" in msg["title"] and "train failed" in msg["title"]
    body = msg["message"]
    assert "[cuda-oom]" in body and "out of GPU memory" in body
    assert "Fix: Add --gradient_checkpointing" in body
    assert "Decisive line: line " in body and "CUDA out of memory" in body
    assert "an idle hour costs $1.20" in body
    assert msg["type"] == "failure"
    time.sleep(0.5)
    assert len(hook.received) == 1  # one failure, one message
    # the password is in no output and no file of wantui
    assert PASSWORD not in r.stdout + r.stderr
    assert files_holding(proj, PASSWORD) == []


def test_finished_run_names_the_lora(tmp_path, hook, home) -> None:
    proj = tmp_path / "p"
    lora = proj / "out" / "mylora.safetensors"
    make_project(proj, steps=("train",), env={"train": {"FAKE_LORA": str(lora)}})
    set_train_args(proj, ["--output_dir", "out", "--output_name", "mylora"])
    env = {**home, "WANTUI_NOTIFY": hook.url("bob", PASSWORD)}
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    wait_runner_gone(proj)
    got = hook.wait(1)
    assert len(got) == 1, got
    assert "finished" in got[0]["title"] and got[0]["type"] == "success"
    assert f"LoRA: {lora}" in got[0]["message"] and "NOT verified" not in got[0]["message"]
    assert PASSWORD not in r.stdout + r.stderr and files_holding(proj, PASSWORD) == []


def test_events_filter_and_toml_reference_expanded_at_send(tmp_path, hook, home) -> None:
    """`$VAR` in wantui.toml stays a reference; only listed events are sent."""
    proj = tmp_path / "p"
    make_project(proj, steps=("train",))
    add_toml(proj, '[notify]\nurls = ["$MY_HOOK"]\nevents = ["failed"]\nidle_minutes = 0\n')
    env = {**home, "MY_HOOK": hook.url("carol", PASSWORD)}
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    wait_runner_gone(proj)
    time.sleep(0.3)
    assert hook.received == []  # "finished" was not asked for
    assert '"$MY_HOOK"' in (proj / "wantui.toml").read_text()


def test_dead_target_never_holds_the_run_and_is_reported_once(tmp_path, home) -> None:
    proj = tmp_path / "p"
    make_project(proj, {"train": "nan"}, steps=("train",))
    dead = f"json://dave:{PASSWORD}@127.0.0.1:9/hook"  # the discard port: refused
    env = {**home, "WANTUI_NOTIFY": dead}
    t0 = time.monotonic()
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=env)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert took < 20, took  # the run's end does not wait for the notifications
    wait_runner_gone(proj)
    rec = json.loads(next((proj / "runs").glob("*/run.json")).read_text())
    assert len(rec["notices"]) == 1, rec["notices"]  # nan + finished both failed: one report
    assert "json #1" in rec["notices"][0] and "could not be sent" in rec["notices"][0]
    assert files_holding(proj, PASSWORD) == [] and PASSWORD not in r.stdout + r.stderr


def test_idle_gpu_after_failure(tmp_path, hook, home) -> None:
    proj = tmp_path / "p"
    make_project(proj, {"train": "fail"}, steps=("train",))
    set_project_key(proj, "price_per_hour", 2.5)
    add_toml(proj, "[notify]\nidle_minutes = 0.02\n")
    env = {**home, "WANTUI_NOTIFY": hook.url()}
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=env)
    assert r.returncode == 1
    wait_runner_gone(proj)
    kinds = [m["title"] for m in hook.wait(2)]
    assert len(kinds) == 2 and "failed" in kinds[0] and "idle" in kinds[1], kinds
    assert "An idle hour costs $2.50" in hook.received[1]["message"]


def test_notify_test_command_names_targets_never_urls(tmp_path, hook, home) -> None:
    env = {**home, "WANTUI_NOTIFY": f"{hook.url('eve', PASSWORD)} json://x:{PASSWORD}@127.0.0.1:9/"}
    r = wantui("notify", "--test", "--project", str(tmp_path), cwd=tmp_path, env=env)
    assert r.returncode == 1  # the second target refused it
    assert "json #1: sent" in r.stdout and "json #2: NOT sent" in r.stderr
    assert PASSWORD not in r.stdout + r.stderr and "127.0.0.1" not in r.stdout + r.stderr
    assert len(hook.wait(1)) == 1 and "test" in hook.received[0]["title"]
    listed = wantui("notify", "--project", str(tmp_path), cwd=tmp_path, env=env)
    assert listed.returncode == 0 and listed.stdout.startswith("json #1  events: ")
    none = wantui("notify", "--test", cwd=tmp_path, env={**home, "WANTUI_NOTIFY": ""})
    assert none.returncode == 2 and "no notification target" in none.stderr


@pytest.mark.parametrize(
    ("toml", "error"),
    [
        ('[notify]\nevents = ["finish"]\n', "notify.events: unknown event 'finish'"),
        ('[notify]\nurls = "json://a:b@h/"\nstall_minutes = -1\n', "notify.stall_minutes"),
        ("[notify]\nurls = [1]\n", "notify.urls must be a list of strings"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, home, toml, error) -> None:
    proj = tmp_path / "p"
    make_project(proj, steps=("train",))
    add_toml(proj, toml)
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=home)
    assert r.returncode == 2 and error in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2 and "wantui.toml" in r.stderr


def test_scrub_removes_every_part_of_a_url() -> None:
    from wantui.core.away.notify import label, scrub

    url = "discord://1234567890/aBcDeFgHiJkLmNoP?avatar=no"
    assert scrub("failed to post to 1234567890/aBcDeFgHiJkLmNoP", [url]).count("<redacted>") == 2
    assert label(url, 0) == "discord #1"


def test_nan_and_stall_are_sent_while_the_step_runs(tmp_path, hook, home) -> None:
    """avr_loss=nan once per step; a step silent past stall_minutes once; and the step
    itself never sees WANTUI_NOTIFY."""
    proj = tmp_path / "p"
    make_project(proj, {"train": "nan"}, steps=("train",), env={"train": {"FAKE_DELAY": "0.6"}})
    add_toml(proj, "[notify]\nevents = ['nan']\n")
    env = {**home, "WANTUI_NOTIFY": hook.url("f", PASSWORD)}
    r = wantui("run", "--force", "--project", str(proj), cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    wait_runner_gone(proj)
    got = hook.wait(1)
    assert (
        len(got) == 1 and "NaN" in got[0]["title"] and "avr_loss=nan at step" in got[0]["message"]
    )

    stalled = tmp_path / "s"
    make_project(stalled, {"train": "argv"}, steps=("train",))
    add_toml(stalled, "[notify]\nevents = ['stall']\nstall_minutes = 0.03\n")
    # a step that prints its environment's WANTUI_NOTIFY, then sleeps past the stall time
    import tomlkit

    doc = tomlkit.parse((stalled / "wantui.toml").read_text())
    doc["steps"]["train"]["script"] = str(tmp_path / "quiet.py")
    (stalled / "wantui.toml").write_text(tomlkit.dumps(doc))
    (tmp_path / "quiet.py").write_text(
        "import os, time\nprint('NOTIFY=' + os.environ.get('WANTUI_NOTIFY', '<unset>'), flush=True)\n"
        "time.sleep(4)\n"
    )
    r = wantui("run", "--force", "--project", str(stalled), cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    wait_runner_gone(stalled)
    got = hook.wait(2)
    assert len(got) == 2 and "no progress for 0.03 min" in got[1]["title"], got
    assert "NOTIFY=<unset>" in r.stdout and files_holding(stalled, PASSWORD) == []


def test_download_stall_is_notified_and_the_download_still_completes(tmp_path, hook, home) -> None:
    from hubserver import HubServer

    payload = os.urandom(3 * 1024 * 1024)
    hub = HubServer(max_life=60).start()
    try:
        hub.add("org/repo", "model.safetensors", payload)
        hub.state.pause_after, hub.state.pause_s = 1024 * 1024, 4.0
        (tmp_path / "xdg" / "wantui").mkdir(parents=True)
        (tmp_path / "xdg" / "wantui" / "config.toml").write_text(
            "[notify]\nevents = ['download']\nstall_minutes = 0.03\n"
        )
        env = {
            **home,
            "WANTUI_NOTIFY": hook.url("g", PASSWORD),
            "HF_ENDPOINT": hub.endpoint,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HOME": str(tmp_path / "hfhome"),
            "HF_TOKEN": "",
        }
        dest = tmp_path / "m"
        r = wantui(
            "download", "org/repo/model.safetensors", "--dest", str(dest), cwd=tmp_path, env=env
        )
        assert r.returncode == 0, r.stderr
        assert (dest / "model.safetensors").read_bytes() == payload
        got = hook.wait(1)
        assert len(got) == 1 and "download stalled" in got[0]["title"], got
        assert "has received nothing for" in r.stderr and PASSWORD not in r.stdout + r.stderr
    finally:
        hub.stop()
