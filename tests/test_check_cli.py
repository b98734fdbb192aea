"""``wantui check``: exit codes 0/1/2, JSON shape, and the three modes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from wantui.cli.main import main
from wantui.core.dataset.mp4 import write_test_mp4

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "configs"


def test_dataset_config_mode_json(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(FIX)
    assert main(["check", "--json", "--dataset-config", str(FIX / "many_problems.toml")]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == str(FIX / "many_problems.toml")
    rules = [f["rule"] for f in out["findings"]]
    assert "toml-extra-key" in rules and "frame-extraction-invalid" in rules
    f = out["findings"][0]
    assert f["origin"] == "check" and f["location"]["line"] and f["severity"] == "error"


def test_valid_dataset_exits_zero(tmp_path, capsys, monkeypatch):
    (tmp_path / "videos").mkdir()
    write_test_mp4(tmp_path / "videos" / "a.mp4", 40)
    (tmp_path / "videos" / "a.txt").write_text("x")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "b.png").write_bytes(b"")
    (tmp_path / "images" / "b.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--dataset-config", str(FIX / "valid_video.toml")]) == 0
    assert "No problems found." in capsys.readouterr().out


def test_unreadable_dataset_config_exits_two(tmp_path, capsys):
    assert main(["check", "--dataset-config", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.toml" in err
    assert main(["check", "--dataset-config", str(tmp_path)]) == 2


def test_command_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "check",
                "--json",
                "--",
                "python",
                "wan_train_network.py",
                "--timestep_boundary",
                "0.875",
            ]
        )
        == 1
    )
    out = json.loads(capsys.readouterr().out)
    catalogs = {f["catalog"] for f in out["findings"]}
    assert {
        "invalid-argument-value",
        "missing-attention-flag",
        "missing-optimizer",
        "script-not-found",
    } <= catalogs
    assert main(["check", "--", "ls", "-la"]) == 2


def test_project_mode_and_usage_errors(tmp_path, capsys):
    assert main(["check", "--project", str(tmp_path)]) == 2  # no wantui.toml
    (tmp_path / "wantui.toml").write_text(
        '[project]\ndataset_config = "d.toml"\n[steps.train]\nargs = ["--sdpa"]\n'
    )
    assert main(["check", "--project", str(tmp_path), "--steps", "bogus"]) == 2
    assert main(["check", "--project", str(tmp_path)]) == 1
    assert "Dataset config not found" in capsys.readouterr().out
    assert main(["check", "--project", str(tmp_path), "--", "python", "x.py"]) == 2


def test_real_process_never_prints_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe[[datasets]\x00")
    res = subprocess.run([sys.executable, "-m", "wantui", "check", "--dataset-config", str(bad)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 2 and "Traceback" not in res.stderr and str(bad) in res.stderr
