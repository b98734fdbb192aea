"""One error type for the user and one table of exit codes.

Every front end turns a :class:`WantuiError` into a single line on stderr and the
exit code it carries; nothing else reaches the user as a traceback.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Documented exit codes, shared by every command (README: "Exit codes")."""

    OK = 0  # nothing at error severity
    FINDINGS = 1  # at least one error finding (or a step/run failed)
    USAGE = 2  # bad usage, unreadable input, invalid rules or config
    INTERNAL = 3  # a bug in wantui: reported in one line, never a traceback
    INTERRUPTED = 130  # Ctrl-C


class WantuiError(Exception):
    """An error the user can act on: a message, optionally a file and position."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        code: ExitCode = ExitCode.USAGE,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.code = code

    def where(self) -> str:
        if self.path is None:
            return ""
        out = self.path
        if self.line is not None:
            out += f":{self.line}"
            if self.column is not None:
                out += f":{self.column}"
        return out

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message
