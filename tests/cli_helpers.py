"""Running the real `wantui` CLI in tests: one subprocess runner (`python -m wantui`) and
the documented shape of a user error. The `wantui_cli` fixture in conftest.py wraps
``run_wantui`` with a clean home for each test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

WANTUI = [sys.executable, "-m", "wantui"]


def cli_env(**extra: str) -> dict[str, str]:
    """This process's environment without colour or debug output, plus ``extra``. Not
    PYTEST_CURRENT_TEST: it names the running test with its parameters, which may be
    megabytes (more than the kernel takes for a child's environment)."""
    env = {**os.environ, "NO_COLOR": "1", "WANTUI_DEBUG": "", **extra}
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def run_wantui(
    *args: str,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    input: str | bytes | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """`python -m wantui *args` as a user runs it; ``env`` is the whole environment
    (``cli_env()`` when None). Without ``input`` stdin is empty (/dev/null)."""
    return subprocess.run(
        [*WANTUI, *args],
        cwd=cwd,
        env=dict(cli_env() if env is None else env),
        capture_output=True,
        text=text,
        timeout=timeout,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
    )


def start_wantui(
    *args: str,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    **popen: Any,
) -> subprocess.Popen:
    """`python -m wantui *args` started and left running (to wait on, signal or race);
    stdout and stderr in text pipes and stdin empty unless ``popen`` says otherwise; ``env``
    is the whole environment (``cli_env()`` when None)."""
    popen = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
        **popen,
    }
    return subprocess.Popen(
        [*WANTUI, *args], cwd=cwd, env=dict(cli_env() if env is None else env), **popen
    )


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    """The documented shape of a user error: one line on stderr, the exit code, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
