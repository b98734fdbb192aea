"""``wantui doctor``: real probe, real project folder, JSON and text, exit codes."""

from __future__ import annotations

import json
import sys

import modelfactory as mf
import pytest

from wantui.cli.main import main


def _project(tmp_path, train_extra=(), python=None):
    (tmp_path / "models").mkdir(exist_ok=True)
    mf.write_safetensors(tmp_path / "models/dit.safetensors", mf.dit_tensors("14B", "i2v"))
    mf.write_safetensors(tmp_path / "models/umt5_xxl_fp16.safetensors", mf.t5_hf_tensors())
    args = [
        "--task",
        "t2v-14B",
        "--dit",
        "models/dit.safetensors",
        "--mixed_precision",
        "bf16",
        "--sdpa",
        *train_extra,
    ]
    text = '[project]\nname = "t"\n'
    if python:
        text += f'python = "{python}"\n'
    text += '[steps.te]\nargs = ["--t5", "models/umt5_xxl_fp16.safetensors"]\n'
    text += "[steps.train]\nargs = [" + ", ".join(f'"{a}"' for a in args) + "]\n"
    (tmp_path / "wantui.toml").write_text(text)
    return tmp_path


def test_doctor_json_with_real_probe(tmp_path, capsys) -> None:
    root = _project(tmp_path, python=sys.executable)
    code = main(["doctor", "--project", str(root), "--json", "--probe-timeout", "90", "--fast"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    cats = {f["catalog"] for f in out["findings"]}
    assert {"no-cuda", "wrong-t5-encoder", "dit-task-mismatch"} <= cats
    assert out["probe"]["ok"] and out["probe"]["data"]["torch"]["cuda_available"] is False
    kinds = {m["flag"]: m["kind"] for m in out["models"]}
    assert kinds == {"--t5": "t5", "--dit": "wan-dit"}
    assert out["source"].endswith("wantui.toml")


def test_doctor_text_no_probe(tmp_path, capsys) -> None:
    root = _project(tmp_path)
    assert main(["doctor", "--project", str(root), "--no-probe"]) == 1
    out = capsys.readouterr().out
    assert "--t5 is not the Wan T5 encoder" in out
    assert "model    --dit" in out


def test_doctor_bad_interpreter_is_a_finding(tmp_path, capsys) -> None:
    root = _project(tmp_path)
    assert (
        main(["doctor", "--project", str(root), "--python", str(tmp_path / "nope"), "--json"]) == 1
    )
    out = json.loads(capsys.readouterr().out)
    assert "probe-python-missing" in {f["rule"] for f in out["findings"]}
    assert out["probe"]["ok"] is False


def test_doctor_machine_only_without_project(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["doctor", "--no-probe"]) == 0
    assert "checking the machine only" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content,needle",
    [
        (None, "no project file"),
        ("[project\nname=", "TOML syntax error"),
    ],
)
def test_doctor_unreadable_project(tmp_path, capsys, content, needle) -> None:
    if content is not None:
        (tmp_path / "wantui.toml").write_text(content)
    assert main(["doctor", "--project", str(tmp_path), "--no-probe"]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_doctor_healthy_models_no_model_errors(tmp_path, capsys) -> None:
    (tmp_path / "models").mkdir()
    mf.write_safetensors(tmp_path / "models/dit.safetensors", mf.dit_tensors("1.3B"))
    (tmp_path / "wantui.toml").write_text(
        '[project]\n[steps.train]\nargs = ["--task", "t2v-1.3B", "--dit", "models/dit.safetensors",'
        ' "--mixed_precision", "bf16"]\n'
    )
    main(["doctor", "--project", str(tmp_path), "--no-probe", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert not [f for f in out["findings"] if f["origin"] == "model"]
