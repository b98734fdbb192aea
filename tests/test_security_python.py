"""A project folder's ``[project] python`` is a program of the folder's choosing (#10):
``wantui doctor`` and ``wantui plan`` in a folder the user did not make must not start
it. A real hostile interpreter (a shell script that leaves a mark) through the real CLI;
trusting the folder (``wantui rules trust``) or ``--python`` lets a probe run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_wantui

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.name != "posix", reason="a shell-script interpreter"),
]


def _wantui(folder: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_wantui(*args, cwd=folder, env=cli_env(XDG_CONFIG_HOME=str(config)), timeout=90)


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "cloned-template"
    folder.mkdir()
    mark = tmp_path / "PWNED"
    evil = folder / "tools" / "python"
    evil.parent.mkdir()
    evil.write_text(f'#!/bin/sh\ntouch {mark}\nexec {sys.executable} "$@"\n')
    evil.chmod(0o755)
    (folder / "wantui.toml").write_text(
        '[project]\nname = "template"\npython = "tools/python"\n\n'
        '[steps.train]\nscript = "wan_train_network.py"\n'
        'args = ["--task", "t2v-1.3B", "--network_dim", "32"]\n'
    )
    return {"folder": folder, "mark": mark, "config": tmp_path / "config"}


def test_doctor_and_plan_do_not_run_an_untrusted_folders_python(hostile) -> None:  # noqa: ANN001
    folder, mark, config = hostile["folder"], hostile["mark"], hostile["config"]
    r = _wantui(folder, config, "doctor")
    assert r.returncode in (0, 1), r.stderr
    assert not mark.exists(), "doctor ran the folder's interpreter"
    assert "not probing" in r.stderr and "rules trust" in r.stderr
    r = _wantui(folder, config, "plan")
    assert "Traceback" not in r.stderr, r.stderr
    assert not mark.exists(), "plan ran the folder's interpreter"
    assert "not probing" in r.stderr
    # the user read wantui.toml and trusts it: now doctor may start it
    r = _wantui(folder, config, "rules", "trust")
    assert r.returncode == 0, r.stderr
    assert "tools/python" in r.stdout
    _wantui(folder, config, "doctor", "--fast")
    assert mark.exists()


def test_an_interpreter_given_on_the_command_line_is_run(hostile) -> None:  # noqa: ANN001
    folder, mark, config = hostile["folder"], hostile["mark"], hostile["config"]
    _wantui(folder, config, "doctor", "--fast", "--python", str(folder / "tools" / "python"))
    assert mark.exists()
