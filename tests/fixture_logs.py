"""Example logs as the product sees them: their ``#=`` fixture markers removed."""

from __future__ import annotations

from pathlib import Path

from wantui.core.rules.examples import read_marked_log

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "fixtures" / "logs"


def plain_log(path: Path, folder: Path) -> Path:
    """A copy of the example log ``path`` without its markers, same name, in ``folder``."""
    out = folder / path.name
    out.write_bytes(read_marked_log(path).data)
    return out
