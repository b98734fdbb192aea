"""Starting a real `wantui serve` in tests: a free port, and the URL with its token that
serve prints at start."""

from __future__ import annotations

import re
import socket
import subprocess
import time

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
