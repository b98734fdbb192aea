"""Apply a plan atomically and record it; undo the last applied fix, even after a restart.

The journal is ``.wantui/journal.jsonl`` in the project folder: one JSON object per line,
``{"type": "apply", id, time, file, role, sha256_before, sha256_after, backup, action}``
and ``{"type": "undo", "of": id, time}``. Lines are appended with one ``write`` and an
fsync, so a crash can at worst leave a torn last line, which is skipped on reading.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.errors import ExitCode, WantuiError
from wantui.core.fixes.plan import FixPlan
from wantui.core.fsutil import atomic_write, sha256_bytes, sha256_file

JOURNAL = Path(".wantui") / "journal.jsonl"


class Journal:
    """The applied-fix journal of one project folder."""

    def __init__(self, project_root: str | os.PathLike[str]) -> None:
        self.root = Path(project_root)
        self.path = self.root / JOURNAL

    def entries(self) -> list[dict[str, Any]]:
        """Every readable entry, oldest first (a torn or foreign line is skipped)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise WantuiError(
                f"cannot read the fix journal: {exc.strerror}", path=self.path
            ) from None
        out: list[dict[str, Any]] = []
        for line in raw.splitlines():
            try:
                obj = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict) and obj.get("type") in ("apply", "undo"):
                out.append(obj)
        return out

    def append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
        # O_APPEND + one write: concurrent appends never interleave inside a line
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def applied(self) -> list[dict[str, Any]]:
        """Apply entries that have not been undone, oldest first."""
        entries = self.entries()
        undone = {e.get("of") for e in entries if e["type"] == "undo"}
        return [e for e in entries if e["type"] == "apply" and e.get("id") not in undone]

    def last_undoable(self) -> dict[str, Any] | None:
        for e in reversed(self.applied()):
            if e.get("file"):
                return e
        return None


@dataclass
class AppliedFix:
    """What :func:`apply_plan` did."""

    id: str
    plan: FixPlan
    file: Path | None = None
    backup: Path | None = None
    sha_before: str | None = None
    sha_after: str | None = None
    downloaded: Path | None = None
    rerun: str | None = None  # the front end runs this step through the supervisor
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.plan.label,
            "file": str(self.file) if self.file else None,
            "backup": str(self.backup) if self.backup else None,
            "sha256_before": self.sha_before,
            "sha256_after": self.sha_after,
            "downloaded": str(self.downloaded) if self.downloaded else None,
            "rerun": self.rerun,
        }


def _current_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WantuiError(f"cannot read: {exc.strerror}", path=path) from None


def apply_plan(
    plan: FixPlan,
    journal: Journal,
    *,
    progress: Callable[[Any], None] | None = None,
) -> AppliedFix:
    """Apply a plan made by :func:`plan_fix`. Raises WantuiError (nothing written) when the
    plan was refused or its file changed since it was planned."""
    if plan.refused:
        raise WantuiError(f"fix refused: {plan.refused}", code=ExitCode.FINDINGS)
    fix_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    result = AppliedFix(id=fix_id, plan=plan, rerun=plan.rerun)
    change = plan.change
    if change is not None:
        _check_unchanged(change.path, change.before)
    if plan.download is not None:
        from wantui.core.hub.download import download

        result.downloaded = download(
            plan.download.spec, plan.download.dest.parent, progress=progress
        )
        if result.downloaded != plan.download.dest:  # pragma: no cover - same basename rule
            result.notes.append(f"downloaded to {result.downloaded}")
    if change is not None:
        _check_unchanged(change.path, change.before)  # again: a download takes minutes
        result.backup = atomic_write(change.path, change.after, project_root=journal.root)
        result.file = change.path
        result.sha_before = change.sha_before
        result.sha_after = change.sha_after
        journal.append(
            {
                "type": "apply",
                "id": fix_id,
                "time": time.time(),
                "file": str(change.path),
                "role": change.role,
                "sha256_before": result.sha_before,
                "sha256_after": result.sha_after,
                "backup": str(result.backup) if result.backup else None,
                "action": plan.action.to_json(),
                "label": plan.label,
                "downloaded": str(result.downloaded) if result.downloaded else None,
            }
        )
    elif result.downloaded is not None:
        journal.append(
            {
                "type": "apply",
                "id": fix_id,
                "time": time.time(),
                "file": None,
                "action": plan.action.to_json(),
                "label": plan.label,
                "downloaded": str(result.downloaded),
            }
        )
    return result


def _check_unchanged(path: Path, before: bytes) -> None:
    now = _current_bytes(path)
    if now is None:
        raise WantuiError(
            "was removed since the fix was planned; plan it again",
            path=path,
            code=ExitCode.FINDINGS,
        )
    if sha256_bytes(now) != sha256_bytes(before):
        raise WantuiError(
            "changed since the fix was planned (someone edited it); plan the fix again",
            path=path,
            code=ExitCode.FINDINGS,
        )


@dataclass
class UndoResult:
    entry: dict[str, Any]
    file: Path
    backup_of_current: Path | None

    def to_json(self) -> dict[str, Any]:
        return {
            "undone": self.entry.get("id"),
            "label": self.entry.get("label"),
            "file": str(self.file),
            "backup_of_current": str(self.backup_of_current) if self.backup_of_current else None,
        }


def undo_last(journal: Journal, *, force: bool = False) -> UndoResult:
    """Restore the file of the last applied fix byte for byte from its backup.

    Refuses when the file changed since the fix (its sha256 is not the one the fix wrote),
    unless ``force``; the current bytes are backed up before they are replaced.
    """
    entry = journal.last_undoable()
    if entry is None:
        raise WantuiError("nothing to undo: no applied fix in the journal", path=journal.path)
    path = Path(entry["file"])
    backup = entry.get("backup")
    if not backup:
        raise WantuiError("the fix has no backup to restore from", path=path)
    backup_path = Path(backup)
    try:
        old = backup_path.read_bytes()
    except OSError as exc:
        raise WantuiError(f"the backup cannot be read: {exc.strerror}", path=backup_path) from None
    if sha256_bytes(old) != entry.get("sha256_before"):
        raise WantuiError(
            "the backup does not match the journal (it was modified); not restoring",
            path=backup_path,
        )
    if not force:
        try:
            now = sha256_file(path)
        except FileNotFoundError:
            now = None
        except OSError as exc:
            raise WantuiError(f"cannot read: {exc.strerror}", path=path) from None
        if now != entry.get("sha256_after"):
            raise WantuiError(
                "changed since the fix was applied; undo would lose those edits (use --force to undo anyway)",
                path=path,
                code=ExitCode.FINDINGS,
            )
    current_backup = atomic_write(path, old, project_root=journal.root)
    journal.append({"type": "undo", "of": entry["id"], "time": time.time(), "file": str(path)})
    return UndoResult(entry, path, current_backup)
