"""The headless boundary: wantui.core imports neither Textual nor torch & co.

Checked in a fresh interpreter so nothing else in the test session has imported them.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import wantui.core

FORBIDDEN = ("textual", "torch", "accelerate", "bitsandbytes", "transformers")


def _core_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(wantui.core.__path__, prefix="wantui.core.")
        if not m.name.endswith("probe_script")  # runs in the pipeline's interpreter, not ours
    )


def test_core_has_modules() -> None:
    assert "wantui.core.finding" in _core_modules()


def test_core_imports_no_ui_and_no_torch() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {_core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"wantui.core pulled in: {out.stdout.strip()}"


def test_cli_diagnose_path_imports_no_textual() -> None:
    code = (
        "import sys\n"
        "from wantui.cli import main\n"
        "main.build_parser(only='diagnose')\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
