"""doctor with no pipeline Python configured: it says which interpreter it probed and why,
how to point at the right one, and which likely ones it found."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import wantui.core.probe as probe_pkg
from wantui.cli.main import main
from wantui.core.probe.runner import ProbeResult
from wantui.core.probe.which_python import choose_python, fallback_finding


def _exe(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    checkout = tmp_path / "musubi-tuner"
    (checkout / "wan_train_network.py").parent.mkdir(parents=True)
    (checkout / "wan_train_network.py").write_text("# stand-in\n")
    venv = _exe(checkout / ".venv" / "bin" / "python")
    conda = _exe(tmp_path / "conda" / "envs" / "musubi" / "bin" / "python")
    monkeypatch.setenv("CONDA_PREFIX", str(tmp_path / "conda" / "envs" / "musubi"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    probed: list[str] = []

    def fake_probe(python: str, **_: object) -> ProbeResult:  # the real one takes seconds
        probed.append(python)
        data = {"python": {"executable": python}, "musubi": {"found": False}}
        return ProbeResult(python=python, data=data, ok=True)

    monkeypatch.setattr(probe_pkg, "run_probe", fake_probe)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the trust list
    proj = tmp_path / "proj"
    proj.mkdir()
    text = f'[project]\nname = "t"\nmusubi_dir = "{checkout}"\n[steps.te]\nargs = []\n'
    (proj / "wantui.toml").write_text(text)
    return {"proj": proj, "venv": venv, "conda": conda, "probed": probed}  # type: ignore[dict-item]


def test_doctor_says_it_probed_its_own_python_and_names_the_candidates(world, capsys) -> None:  # noqa: ANN001
    code = main(["doctor", "--project", str(world["proj"]), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert world["probed"] == [sys.executable]
    assert out["probe"]["python_from"] == "fallback"
    first = out["findings"][0]  # it frames every probe finding: ranked first
    assert first["rule"] == "probe-python-fallback" and first["severity"] == "error"
    assert sys.executable in first["message"] and "no `python` in [project]" in first["message"]
    advice = " ".join(first["advice"])
    assert str(world["venv"]) in advice and str(world["conda"]) in advice
    assert f"wantui doctor --python {world['venv']}" in advice
    assert f'python = "{world["venv"]}"' in advice
    assert code == 1


def test_text_summary_names_the_interpreter_and_why(world, capsys) -> None:  # noqa: ANN001
    main(["doctor", "--project", str(world["proj"])])
    out = capsys.readouterr().out
    assert f"{sys.executable}  (wantui's own: no pipeline Python is configured)" in out


def test_a_configured_python_is_probed_without_the_warning(world, capsys) -> None:  # noqa: ANN001
    toml = world["proj"] / "wantui.toml"
    toml.write_text(
        toml.read_text().replace('name = "t"\n', f'name = "t"\npython = "{world["venv"]}"\n')
    )
    assert main(["rules", "trust", str(world["proj"])]) == 0  # the user read it: trusted
    assert str(world["venv"]) in capsys.readouterr().out
    main(["doctor", "--project", str(world["proj"]), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert world["probed"] == [str(world["venv"])] and out["probe"]["python_from"] == "project"
    assert "probe-python-fallback" not in {f["rule"] for f in out["findings"]}
    main(["doctor", "--project", str(world["proj"]), "--json", "--python", str(world["conda"])])
    assert json.loads(capsys.readouterr().out)["probe"]["python_from"] == "--python"


def test_an_untrusted_folders_python_is_not_started(world, capsys) -> None:  # noqa: ANN001
    """A wantui.toml the user did not write names the interpreter: doctor must not run it
    (#10: a hostile [project] python runs code on `doctor`) until the folder is trusted
    with that interpreter, or one is given with --python."""
    toml = world["proj"] / "wantui.toml"
    toml.write_text(
        toml.read_text().replace('name = "t"\n', f'name = "t"\npython = "{world["venv"]}"\n')
    )
    main(["doctor", "--project", str(world["proj"]), "--json"])
    captured = capsys.readouterr()
    assert world["probed"] == [] and json.loads(captured.out)["probe"] is None
    assert "not probing" in captured.err and "this folder is not trusted" in captured.err
    assert "wantui rules trust" in captured.err and "--python" in captured.err
    main(["doctor", "--project", str(world["proj"]), "--json", "--python", str(world["conda"])])
    assert world["probed"] == [str(world["conda"])]  # named by the user: run
    capsys.readouterr()
    assert main(["rules", "trust", str(world["proj"])]) == 0
    # a later change of [project] python (a git pull) needs a new trust
    toml.write_text(toml.read_text().replace(str(world["venv"]), str(world["conda"])))
    main(["doctor", "--project", str(world["proj"]), "--json"])
    captured = capsys.readouterr()
    assert world["probed"] == [str(world["conda"])]
    assert "not the one you trusted" in captured.err


def test_wantui_inside_the_musubi_venv_is_only_a_note(tmp_path: Path) -> None:
    f = fallback_finding(
        sys.executable, checkout=None, project_file=None, musubi_found=True, env={}
    )
    assert f.severity.value == "info"
    f = fallback_finding(sys.executable, checkout=None, project_file=None, env={})
    assert "No other interpreter was found" in f.advice[0]
    assert choose_python(None, None) == (sys.executable, "fallback")
