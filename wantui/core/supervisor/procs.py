"""Small process helpers shared by the runner and stop_run (kept apart so that
``python -m wantui.core.supervisor.runner`` is not imported by the package itself)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

STOP_FILE = "stop"
# space the runner keeps aside while steps run, to record their end on a full disk
RESERVE_FILE = ".reserve"
RESERVE_BYTES = 256 * 1024
# where start_run keeps the caller's PYTHONPATH ("" when it had none) for the steps
ORIG_PYTHONPATH = "WANTUI_ORIG_PYTHONPATH"
SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows has no SIGKILL
# free bytes under which a failed step is blamed on a full disk
LOW_DISK = 1 << 20
LEFTOVER_GRACE = 3.0


def group_alive(pgid: int | None) -> bool:
    if not pgid or sys.platform == "win32":
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def disk_note(path: Path) -> str | None:
    """A message when the file system holding ``path`` is (nearly) full."""
    try:
        st = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    free = st.f_bavail * st.f_frsize
    if free < LOW_DISK:
        return f"the disk holding {path} is full ({free} bytes free): logs and checkpoints cannot be written"
    return None
