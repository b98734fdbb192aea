"""wantui report: a redacted Markdown bundle, at most 64 KB; no seeded secret survives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import modelfactory as mf
import pytest

from tests.cli_helpers import run_wantui
from wantui.core.project import Project, Step, project_to_toml
from wantui.core.redact import Context, redact
from wantui.core.report import LIMIT, build, gather, musubi_commit
from wantui.core.rules import load_rules

HOME = "/home/alice"
HOST = "gpu-box-7f3a"
HF = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
WANDB = "0123456789abcdef0123456789abcdef01234567"
AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
BEARER = "eyJhbGciOiJIUzI1NiJ9.payload.signature"
APIKEY = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
MY_TOKEN = "s3cr3t-value-of-my-env-token"
EMAIL = "alice.smith@example.org"
IP = "203.0.113.77"
SECRETS = [HF, WANDB, AWS_ID, AWS_SECRET, BEARER, APIKEY, MY_TOKEN, EMAIL, IP, "alice", HOST]


def _ctx() -> Context:
    return Context(
        env={"MY_SERVICE_TOKEN": MY_TOKEN, "PATH": "/usr/bin"}, user="alice", home=HOME, host=HOST
    )


def test_redact_every_shape() -> None:
    text = (
        f"export HF_TOKEN={HF}\nwandb login {WANDB}\naws_access_key_id = {AWS_ID}\n"
        f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\nAuthorization: Bearer {BEARER}\napi_key={APIKEY}\n"
        f"token seen later: {MY_TOKEN}\nmail {EMAIL}\nconnect {IP}:29500\n"
        f"{HOME}/musubi/models/dit.safetensors and C:\\Users\\alice\\models\\vae.pth\n"
        f"alice@{HOST}:~/work$ python train.py\nrunning on {HOST}\n"
    )
    out = redact(text, _ctx())
    for s in SECRETS:
        assert s not in out, s
    assert "~/musubi/models/dit.safetensors" in out and "~\\models\\vae.pth" in out
    # healthy text is left alone
    keep = (
        "Missing key(s) in state_dict: 'blocks.0.cross_attn.k.weight'; torch 2.6.0+cu124; 127.0.0.1"
    )
    assert redact(keep, _ctx()) == keep


def _project(root: Path) -> Project:
    (root / "musubi" / ".git" / "refs" / "heads").mkdir(parents=True)
    (root / "musubi" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "musubi" / ".git" / "refs" / "heads" / "main").write_text("30c658c0123456789abcdef\n")
    (root / "musubi" / "wan_train_network.py").write_text("# stand-in\n")
    (root / "models").mkdir()
    mf.write_safetensors(root / "models" / "dit.safetensors", mf.dit_tensors("1.3B"))
    (root / "dataset.toml").write_text(
        f'# by {EMAIL}, token {HF}\n[general]\nresolution = [480, 272]\ncaption_extension = ".txt"\n'
        f'[[datasets]]\nvideo_directory = "{HOME}/clips"\ncache_directory = "{HOME}/cache"\n',
        encoding="utf-8",
    )
    (root / ".wantui").mkdir()
    probe = {
        "data": {
            "python": {"version": "3.11.9", "executable": f"{HOME}/venv/bin/python"},
            "torch": {
                "version": "2.6.0+cu124",
                "cuda_build": "12.4",
                "gpus": [
                    {"index": 0, "name": "NVIDIA H100", "total_bytes": 80e9, "capability": "9.0"}
                ],
            },
            "accelerate": {"version": "1.6.0", "config_file": str(root / "acc.yaml")},
            "bitsandbytes": {"version": "0.45.5"},
            "platform": {"system": f"Linux {HOST}"},
        }
    }
    (root / ".wantui" / "probe.json").write_text(json.dumps(probe), encoding="utf-8")
    (root / "acc.yaml").write_text(f"main_process_ip: {IP}\nhub_token: {HF}\n", encoding="utf-8")
    p = Project(root=root, name="t", musubi_dir="musubi", dataset_config="dataset.toml")
    p.steps = {
        "train": Step(
            "train",
            "wan_train_network.py",
            ["--task", "t2v-1.3B", "--dit", "models/dit.safetensors", "--sdpa", "--log_with", "wandb",
             "--wandb_api_key", WANDB, "--output_dir", f"{HOME}/out"],
            launcher="accelerate",
            env={"MY_SERVICE_TOKEN": MY_TOKEN, "AWS_SECRET_ACCESS_KEY": AWS_SECRET},
        )
    }  # fmt: skip
    (root / "wantui.toml").write_text(project_to_toml(p), encoding="utf-8")
    return p


def _log(root: Path) -> Path:
    log = root / "train.log"
    log.write_text(
        f"alice@{HOST}:~$ accelerate launch wan_train_network.py --dit {HOME}/models/dit.safetensors\n"
        f"INFO:root:HF_TOKEN={HF} AWS key {AWS_ID}; Authorization: Bearer {BEARER}\n"
        f"INFO:root:api_key={APIKEY} MY_SERVICE_TOKEN in use: {MY_TOKEN}; contact {EMAIL}\n"
        f"INFO:torch.distributed:connecting to {IP}:29500\n"
        "Traceback (most recent call last):\n"
        f'  File "{HOME}/musubi/src/musubi_tuner/wan_train_network.py", line 10, in <module>\n'
        "UnboundLocalError: local variable 'x' referenced before assignment\n",
        encoding="utf-8",
    )
    return log


def test_report_has_the_sections_and_no_secret(tmp_path: Path) -> None:
    project = _project(tmp_path)
    inp = gather([_log(tmp_path)], project, load_rules(include_user=False))
    text = build(inp, _ctx())
    for s in SECRETS:
        assert s not in text, s
    for section in ("## Findings", "## Traceback anatomy", "## Commands", "## Versions",
                    "## Dataset config", "## accelerate config", "## Model files", "## Log lines"):  # fmt: skip
        assert section in text, section
    assert "`musubi-code-error`" in text and "30c658c01234" in text and "NVIDIA H100" in text
    assert "dit.safetensors" not in text.split("## Model files")[1].split("##")[0]  # never a path
    assert len(text.encode("utf-8")) <= LIMIT


def test_report_fits_64_kb(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text(
        "".join(f"step {i} loss=0.1 {'x' * 3000}\n" for i in range(200)), encoding="utf-8"
    )
    inp = gather([log], None, load_rules(include_user=False))
    text = build(inp, _ctx())
    assert len(text.encode("utf-8")) <= LIMIT  # 40 lines of 500 characters at most fit
    small = build(inp, _ctx(), limit=8000)  # the cut itself, on a smaller budget
    assert len(small.encode("utf-8")) <= 8000
    assert "cut to fit" in small and "## Findings" in small and small.count("```") % 2 == 0


def test_musubi_commit_from_packed_refs(tmp_path: Path) -> None:
    git = tmp_path / ".git"
    git.mkdir()
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text("# pack-refs\nabcdef0123456789 refs/heads/main\n")
    assert musubi_commit(tmp_path) == "abcdef012345"
    assert musubi_commit(tmp_path / "nope") is None


def test_cli_writes_the_report(tmp_path: Path) -> None:
    _project(tmp_path)
    log = _log(tmp_path)
    out = tmp_path / "report.md"
    env = {**os.environ, "HOME": HOME if os.path.isdir(HOME) else os.environ.get("HOME", "/")}
    res = run_wantui(
        "report",
        "--log",
        str(log),
        "--project",
        str(tmp_path),
        "-o",
        str(out),
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    text = out.read_text(encoding="utf-8")
    for s in (HF, WANDB, AWS_ID, AWS_SECRET, BEARER, APIKEY, MY_TOKEN, EMAIL, IP):
        assert s not in text, s
    assert len(text.encode("utf-8")) <= LIMIT


def test_cli_needs_something_to_report(tmp_path: Path) -> None:
    res = run_wantui("report", cwd=tmp_path)
    assert res.returncode == 2 and "nothing to report" in res.stderr
    res = run_wantui("report", "--log", "missing.log", cwd=tmp_path)
    assert res.returncode == 2 and "missing.log" in res.stderr


@pytest.mark.parametrize("value", ["1.2.3.4.5", "2.6.0", "version 10.0.19045"])
def test_versions_are_not_ips(value: str) -> None:
    assert redact(value, Context()) == value


def test_terminal_controls_in_logs_are_inert(tmp_path: Path) -> None:
    log = tmp_path / "evil.log"
    log.write_bytes(
        b"Traceback (most recent call last):\nRuntimeError: x \x1b]52;c;cm0=\x07 \xc2\x9d52;c;cm0=\xc2\x9c\n"
    )
    text = build(gather([log], None, load_rules(include_user=False)), _ctx())
    assert "\x1b" not in text and "\x9d" not in text and "\x07" not in text
