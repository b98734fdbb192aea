"""An installed (not editable) wantui carries its rules, their examples and the demo; the
`wantui` console script and `python -m wantui` are the same program."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_wantui

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_wheel_ships_rules_examples_and_demo(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 and "hatchling" in proc.stderr and "No matching" in proc.stderr:
        pytest.skip("the build backend (hatchling) cannot be fetched here")
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("wantui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    rules = {
        n
        for n in names
        if n.startswith("wantui/_rules/")
        and n.endswith(".yaml")
        and not n.startswith("wantui/_rules/examples/")
    }
    # The rule files and the declarations of the checks written in Python (rules/checks/).
    expected = {
        f"wantui/_rules/{p.relative_to(ROOT / 'rules').as_posix()}"
        for p in [*(ROOT / "rules").glob("*.yaml"), *(ROOT / "rules" / "checks").glob("*.yaml")]
    }
    assert rules == expected
    assert any(n.startswith("wantui/_rules/checks/") for n in names)
    assert any(n.startswith("wantui/_rules/examples/") for n in names)
    assert any(n.startswith("wantui/data/demo/") for n in names)
    assert "wantui/core/probe/probe_script.py" in names


def test_python_dash_m_wantui_matches_the_console_script(tmp_path: Path) -> None:
    script = shutil.which("wantui", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the wantui console script is not installed next to this python")
    (tmp_path / "d.toml").write_text("[general]\nresolution = [960, 544]\nnum_frames = 3\n")
    for args in (
        ["check", "--dataset-config", "d.toml", "--json"],
        ["check", "--dataset-config", "missing.toml"],
        ["fix", "--dataset-config", "d.toml"],
        ["import", "--dry-run", "--", "$ python wan_cache_latents.py --vae v"],
        ["nosuchcommand"],
    ):
        a = subprocess.run(
            [script, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        b = run_wantui(*args, cwd=tmp_path, timeout=30)
        assert (a.returncode, a.stdout) == (b.returncode, b.stdout), args
        assert "Traceback" not in a.stderr + b.stderr
