"""An installed (not editable) wantui carries its rules, their examples and the demo."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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
    rules = {n for n in names if n.startswith("wantui/_rules/") and n.endswith(".yaml")}
    expected = {f"wantui/_rules/{p.name}" for p in (ROOT / "rules").glob("*.yaml")}
    assert rules == expected
    assert any(n.startswith("wantui/_rules/examples/") for n in names)
    assert any(n.startswith("wantui/data/demo/") for n in names)
    assert "wantui/core/probe/probe_script.py" in names
