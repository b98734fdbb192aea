"""One run at a time per project: ``runs/.lock`` held with ``fcntl.flock``.

``start_run`` takes the lock and hands the open file to the runner (an inherited fd shares
the same lock), so the lock lives exactly as long as the runner, survives the TUI and
``wantui run`` exiting, and is released by the kernel if the runner is killed. Attach is
read-only and never takes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from wantui.core.errors import WantuiError

LOCK_NAME = ".lock"


class RunLocked(WantuiError):
    """Another run holds the project lock."""

    def __init__(self, message: str, *, path: Path, holder: dict) -> None:
        super().__init__(message, path=path)
        self.holder = holder


def _read_holder(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, RecursionError):
        return {}


def acquire(runs_dir: Path) -> int:
    """Take the project lock and return its fd (not inheritable); RunLocked when held."""
    from wantui.core.fsutil import open_state_file

    runs_dir.mkdir(parents=True, exist_ok=True)
    path = runs_dir / LOCK_NAME
    # the holder is written into it (truncated first): never through a link a folder
    # planted at its name (runs/.lock -> ~/.bashrc)
    fd = open_state_file(path, os.O_RDWR | os.O_CREAT)
    try:
        _lock_fd(fd)
    except BlockingIOError:
        os.close(fd)
        holder = _read_holder(path)
        rid = holder.get("run_id", "?")
        pid = holder.get("pid", "?")
        raise RunLocked(
            f"a run is already going in this project: {rid} (runner pid {pid}); "
            "follow it with `wantui attach`, stop it with `wantui run --stop`",
            path=path,
            holder=holder,
        ) from None
    return fd


def write_holder(fd: int, *, run_id: str, pid: int) -> None:
    """Record who holds the lock (for the refusal message); best effort."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps({"run_id": run_id, "pid": pid}).encode())


def is_locked(runs_dir: Path) -> bool:
    """True while some runner holds the lock (tries it without keeping it)."""
    path = runs_dir / LOCK_NAME
    if not path.exists():
        return False
    try:
        fd = acquire(runs_dir)
    except RunLocked:
        return True
    os.close(fd)
    return False


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only

    def _lock_fd(fd: int) -> None:
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            raise BlockingIOError from None

else:
    import fcntl

    def _lock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
