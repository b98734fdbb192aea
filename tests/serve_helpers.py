"""Starting a real `wantui serve` in tests: a free port, the process, the URL with its token
that serve prints at start, and stopping what is left of it."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.cli_helpers import WANTUI

ROOT = Path(__file__).resolve().parent.parent

_URL = r"(http://127\.0\.0\.1:\d+/\?token=[\w-]+)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def printed_url(
    proc: subprocess.Popen[str], *, prefix: str = "", timeout: float = 60
) -> str | None:
    """The URL with its token from serve's text stdout (after ``prefix`` on its line, when
    given), or None if none came in time."""
    pattern = re.compile(re.escape(prefix) + _URL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = pattern.search(proc.stdout.readline())  # type: ignore[union-attr]
        if m:
            return m.group(1)
    return None


def start_serve(folder: Path, port: int, **popen: Any) -> subprocess.Popen:
    """`wantui serve FOLDER --port PORT`, started from the repository root; stdout and
    stderr together in one text pipe unless ``popen`` says otherwise."""
    popen = {
        "cwd": ROOT,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.STDOUT,
        "text": True,
        **popen,
    }
    return subprocess.Popen([*WANTUI, "serve", str(folder), "--port", str(port)], **popen)


def stop_serve(proc: subprocess.Popen) -> None:
    """Kills a serve the test left running, and reaps it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
