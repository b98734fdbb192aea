"""Smaller hardening (issue 10 #15): a string `enabled`, secrets kept as references by
`wantui import`, an HF token in HF_ENDPOINT, an unreadable config folder, the step log cap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402

from wantui.core.errors import WantuiError
from wantui.core.project import load_project
from wantui.core.supervisor import start_run
from wantui.core.supervisor.procs import cap_log

SECRET = "wandb_SECRET_0123456789abcdef"


@pytest.mark.parametrize("value", ['"false"', '"no"', "0", '""'])
def test_enabled_must_be_a_boolean(tmp_path: Path, value: str) -> None:
    (tmp_path / "wantui.toml").write_text(f'[project]\nname = "n"\n[steps.te]\nenabled = {value}\n')
    with pytest.raises(WantuiError, match="enabled must be true or false"):
        load_project(tmp_path)


def test_import_keeps_secret_references(tmp_path: Path, wantui_cli) -> None:
    cmd = (
        "WANDB_API_KEY=$WANDB_API_KEY HF_HOME=$HOME/hf python wan_train_network.py"
        " --task t2v-1.3B --log_with wandb --wandb_api_key ${WANDB_API_KEY} --output_dir $HOME/out"
    )
    res = wantui_cli(
        "import", "--project", str(tmp_path), "--", cmd, cwd=tmp_path,
        env={"WANDB_API_KEY": SECRET, "HOME": "/home/me"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "wantui.toml").read_text()
    assert SECRET not in text
    assert "$WANDB_API_KEY" in text and "${WANDB_API_KEY}" in text
    assert "/home/me/out" in text  # ordinary variables are still expanded


def test_run_expands_secret_references_only_in_the_step(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    proj = make_project(tmp_path, {"latents": "argv"}, env={"latents": {"K2": "x$WANDB_API_KEY"}})
    proj.steps["latents"].args = ["--wandb_api_key", "${WANDB_API_KEY}"]
    rec = start_run(proj, ["latents"]).wait(30)
    assert rec.status == "succeeded"
    log = (rec.run_dir / "latents.log").read_text()
    assert f"--wandb_api_key {SECRET}" in log
    assert SECRET not in (rec.run_dir / "run.json").read_text()


def test_export_sh_expands_secret_references_when_run(tmp_path: Path) -> None:
    from wantui.core.export import export_bat, export_sh

    proj = make_project(
        tmp_path, {"latents": "ok"}, env={"latents": {"WANDB_API_KEY": "$WANDB_API_KEY"}}
    )
    proj.steps["latents"].args = ["--wandb_api_key", "a${WANDB_API_KEY}b"]
    sh = export_sh(proj)
    assert '--wandb_api_key a"${WANDB_API_KEY}"b' in sh
    assert ' WANDB_API_KEY="${WANDB_API_KEY}" ' in sh
    # bash expands them: the value reaches the program
    words = subprocess.run(
        ["bash", "-c", 'printf "%s|" a"${WANDB_API_KEY}"b'],
        capture_output=True, text=True, env={"WANDB_API_KEY": "k y"}, timeout=10,
    ).stdout  # fmt: skip
    assert words == "ak yb|"
    bat = export_bat(proj)
    assert "a%WANDB_API_KEY%b" in bat and 'set "WANDB_API_KEY=%WANDB_API_KEY%"' in bat


def test_hf_token_in_hf_endpoint_is_never_printed(tmp_path: Path, wantui_cli) -> None:
    token = "hf_SeCrEtToKeN1234567890abcdef"
    env = {
        "HF_ENDPOINT": f"http://user:{token}@127.0.0.1:9",  # nothing listens on port 9
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_ETAG_TIMEOUT": "2",
        "HF_HUB_OFFLINE": "0",
    }
    res = wantui_cli("download", "t5", "--dest", str(tmp_path / "m"), cwd=tmp_path, env=env)
    assert res.returncode != 0
    assert token not in res.stdout + res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_unreadable_config_folder_does_not_stop_diagnose(tmp_path: Path, wantui_cli) -> None:
    """As root, permissions cannot be taken away: a name too long gives the same
    OSError from the config folder as a folder without read permission."""
    log = tmp_path / "train.log"
    log.write_text("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / ("c" * 300))}
    res = wantui_cli("diagnose", str(log), cwd=tmp_path, env=env)
    assert res.returncode == 1, res.stderr
    assert "cuda-oom" in res.stdout or "CUDA" in res.stdout
    assert "cannot read the rule folder" in res.stderr
    res = wantui_cli("rules", "list", cwd=tmp_path, env=env)
    assert res.returncode == 0 and "cuda-oom" in res.stdout, res.stderr


def test_step_log_is_capped_keeping_head_and_tail(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANTUI_STEP_LOG_MAX", "1M")
    proj = make_project(tmp_path, {"latents": "flood"}, env={"latents": {"FAKE_LINES": "300000"}})
    rec = start_run(proj, ["latents"]).wait(60)
    log = (rec.run_dir / "latents.log").read_bytes()
    assert rec.status == "succeeded"
    assert len(log) <= 1 << 20, len(log)
    assert log.startswith(b"steps: 0 line of flood output\n")
    assert log.endswith(b"steps: 299999 line of flood output\n")
    assert b"bytes of this log were cut here" in log
    assert any("cap" in n for n in rec.steps[0].notes)


def test_cap_log_unit(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    p.write_bytes(b"H" * 100 + b"M" * 800 + b"T" * 100)
    assert cap_log(p, 400) == 1000 - 200 - 100
    data = p.read_bytes()
    assert data.startswith(b"H" * 100) and data.endswith(b"M" * 100 + b"T" * 100)
    assert cap_log(p, 0) == 0
