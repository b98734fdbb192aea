"""Apply a plan atomically and record it; undo the last applied fix, even after a restart.

The journal is ``.wantui/journal.jsonl`` in the project folder: one JSON object per line,
``{"type": "apply", id, time, file, role, sha256_before, sha256_after, backup, action,
group}`` and ``{"type": "undo", "of": id, time}``. Fixes applied by one command (``wantui
fix --apply all``) share a ``group`` id, and one undo reverts the whole group. Lines are appended with one ``write`` and an
fsync, so a crash can at worst leave a torn last line, which is skipped on reading.

The apply line is written ahead of the file (after the backup and the temp file, before
the rename): a kill at any moment leaves the file unchanged, or changed with its record.
An apply whose file still has its ``sha256_before`` never landed; undo closes it with
``{"type": "undo", "of": id, "landed": false}`` and touches nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.errors import ExitCode, WantuiError
from wantui.core.fixes.actions import unit_for
from wantui.core.fixes.plan import FixPlan
from wantui.core.fsutil import (
    BACKUP_DIR,
    PROJECT_FILE,
    STATE_DIR,
    atomic_write,
    open_state_file,
    read_regular_file,
    sha256_bytes,
    sha256_file,
    state_folder,
)

JOURNAL = Path(STATE_DIR) / "journal.jsonl"
LOCK = Path(STATE_DIR) / "fix.lock"
MAX_JOURNAL_BYTES = 64 * 1024 * 1024  # one line per fix: years of use
MAX_BACKUP_BYTES = 64 * 1024 * 1024  # backups are of TOML files wantui edits
LOCK_TIMEOUT_S = float(os.environ.get("WANTUI_FIX_LOCK_TIMEOUT", "30"))


def _well_formed(obj: Any) -> bool:
    """An entry this module wrote: the right type and the right field types. A journal
    edited by hand or by a broken tool must not crash undo."""
    if not isinstance(obj, dict):
        return False
    if obj.get("type") == "undo":
        return isinstance(obj.get("of"), str)
    if obj.get("type") != "apply" or not isinstance(obj.get("id"), str):
        return False
    return all(
        obj.get(k) is None or isinstance(obj.get(k), str)
        for k in ("file", "backup", "sha256_before", "sha256_after", "label", "group")
    )


@contextlib.contextmanager
def fix_lock(root: str | os.PathLike[str], *, timeout: float | None = None) -> Iterator[None]:
    """Hold ``<root>/.wantui/fix.lock`` (``flock``) while a fix or an undo checks, writes
    and journals, so two ``wantui fix --apply`` in one project never interleave. Waits up
    to ``timeout`` seconds for the other one, then refuses. No-op where flock is missing
    (Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = state_folder(root) / LOCK.name
    fd = open_state_file(path, os.O_RDWR | os.O_CREAT)
    try:
        deadline = time.monotonic() + (LOCK_TIMEOUT_S if timeout is None else timeout)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WantuiError(
                        "another `wantui fix` is applying or undoing a fix in this project;"
                        " try again when it is done",
                        path=path,
                        code=ExitCode.FINDINGS,
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Journal:
    """The applied-fix journal of one project folder."""

    def __init__(self, project_root: str | os.PathLike[str]) -> None:
        self.root = Path(project_root)
        self.path = self.root / JOURNAL

    def entries(self) -> list[dict[str, Any]]:
        """Every readable entry, oldest first (a torn, foreign or ill-typed line is skipped)."""
        state_folder(self.root, create=False)  # a linked .wantui/ is refused, not read
        if not self.path.exists() and not self.path.is_symlink():
            return []
        raw = read_regular_file(
            self.path, limit=MAX_JOURNAL_BYTES, what="fix journal", nofollow=True
        )
        out: list[dict[str, Any]] = []
        for line in raw.splitlines():
            try:
                obj = json.loads(line)
            except (ValueError, UnicodeDecodeError, RecursionError):
                continue  # RecursionError: a line nested past Python's limit
            if _well_formed(obj):
                out.append(obj)
        return out

    def append(self, entry: dict[str, Any]) -> None:
        fd = self.open_for_append()
        try:
            self.write_line(fd, entry)
        finally:
            os.close(fd)

    def open_for_append(self) -> int:
        """The journal opened for appending; a WantuiError (nothing written yet) when it
        cannot be, so a fix is never applied without its undo record."""
        state_folder(self.root)
        # O_APPEND + one write: concurrent appends never interleave inside a line;
        # O_NONBLOCK: a FIFO in its place must not hang (open_state_file refuses it)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NONBLOCK", 0)
        return open_state_file(self.path, flags)

    def write_line(self, fd: int, entry: dict[str, Any]) -> None:
        data = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
        try:
            os.write(fd, data)
            os.fsync(fd)
        except OSError as exc:
            raise WantuiError(
                f"cannot write the fix journal: {exc.strerror or exc}", path=self.path
            ) from None

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

    def last_group(self) -> list[dict[str, Any]]:
        """The entries one undo reverts, newest first: the last undoable fix and every
        not-yet-undone fix applied by the same command (its ``group``)."""
        last = self.last_undoable()
        if last is None:
            return []
        group = last.get("group")
        if not group:
            return [last]
        return [e for e in reversed(self.applied()) if e.get("file") and e.get("group") == group]


def new_group_id() -> str:
    """An id for the fixes one command applies together (one apply, one undo)."""
    return "g-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


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
    group: str | None = None,
) -> AppliedFix:
    """Apply a plan made by :func:`plan_fix`. Raises WantuiError (nothing written) when the
    plan was refused or its file changed since it was planned. Fixes applied with the same
    ``group`` (:func:`new_group_id`) are undone together."""
    if plan.refused:
        raise WantuiError(f"fix refused: {plan.refused}", code=ExitCode.FINDINGS)
    for part in plan.also:  # one fix in several files: none written if any changed since
        if part.change is not None:
            _check_unchanged(part.change.path, part.change.before)
    if plan.also and group is None:
        group = new_group_id()  # one undo for all its parts
    fix_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    result = AppliedFix(id=fix_id, plan=plan, rerun=plan.rerun)
    change = plan.change
    if change is not None:
        _check_unchanged(change.path, change.before)
    # the action's own part (a download) first, then the file change with its record
    result.downloaded = unit_for(plan.action.action).apply(plan, progress)  # type: ignore[union-attr]
    if plan.download is not None and result.downloaded not in (None, plan.download.dest):
        result.notes.append(f"downloaded to {result.downloaded}")  # pragma: no cover
    if change is not None:
        with fix_lock(journal.root):
            _check_unchanged(change.path, change.before)  # again: a download takes minutes
            fd = journal.open_for_append()  # before the write: no fix without its record
            try:
                result.file = change.path
                result.sha_before = change.sha_before
                result.sha_after = change.sha_after

                def record(backup: Path | None) -> None:
                    # write-ahead: the record is on disk before the rename, so a kill at
                    # any moment leaves the file unchanged or changed *and* journaled;
                    # undo knows an entry whose file still has the old bytes never landed
                    journal.write_line(
                        fd,
                        {
                            "type": "apply",
                            "id": fix_id,
                            "time": time.time(),
                            "file": str(change.path),
                            "role": change.role,
                            "sha256_before": result.sha_before,
                            "sha256_after": result.sha_after,
                            "backup": str(backup) if backup else None,
                            "action": plan.action.to_json(),
                            "label": plan.label,
                            "downloaded": str(result.downloaded) if result.downloaded else None,
                            "group": group,
                        },
                    )

                try:
                    result.backup = atomic_write(
                        change.path, change.after, project_root=journal.root, before_replace=record
                    )
                except WantuiError:
                    # the rename failed after the record was written: close the record
                    with contextlib.suppress(WantuiError):
                        journal.write_line(
                            fd, {"type": "undo", "of": fix_id, "time": time.time(), "landed": False}
                        )
                    raise
            finally:
                os.close(fd)
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
                "group": group,
            }
        )
    for part in plan.also:
        done = apply_plan(part, journal, progress=progress, group=group)
        result.notes.append(f"also: {part.label}" + (f" ({done.file})" if done.file else ""))
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
    """One undo: the fix it reverted (``entry``, ``file``) and, when that fix was applied
    together with others (``--apply all``), those reverted with it (``others``, newest
    first)."""

    entry: dict[str, Any]
    file: Path
    backup_of_current: Path | None
    others: list[UndoResult] = field(default_factory=list)
    landed: bool = True  # False: the apply was killed before its rename; nothing to restore

    @property
    def all(self) -> list[UndoResult]:
        return [self, *self.others]

    def to_json(self) -> dict[str, Any]:
        out = {
            "undone": self.entry.get("id"),
            "label": self.entry.get("label"),
            "file": str(self.file),
            "backup_of_current": str(self.backup_of_current) if self.backup_of_current else None,
            "landed": self.landed,
        }
        if self.others:
            out["group"] = self.entry.get("group")
            out["also_undone"] = [o.to_json() for o in self.others]
        return out


def undo_last(journal: Journal, *, force: bool = False) -> UndoResult:
    """Revert the last apply: restore the file of the last applied fix byte for byte from
    its backup, and the files of every fix applied with it (one ``--apply all`` is one undo).

    Refuses when a file changed since the fix (its sha256 is not the one the fix wrote),
    unless ``force``; the current bytes are backed up before they are replaced. Every
    fix of the group is checked before the first file is restored, so a refusal restores
    nothing.
    """
    if journal.last_undoable() is None:  # say so before taking (creating) the lock
        raise WantuiError("nothing to undo: no applied fix in the journal", path=journal.path)
    with fix_lock(journal.root):
        return _undo_locked(journal, force=force)


def _undo_locked(journal: Journal, *, force: bool) -> UndoResult:
    group = journal.last_group()
    if not group:
        raise WantuiError("nothing to undo: no applied fix in the journal", path=journal.path)
    # check all, newest first, as each restore would leave the file for the next one
    current: dict[Path, str | None] = {}
    prepared: list[tuple[dict[str, Any], Path, bytes | None]] = []
    for entry in group:
        path, old = _prepared_restore(journal, entry)
        if path not in current:
            current[path] = _current_sha(path)
        if current[path] is None:
            # undo puts back bytes that were replaced; it never creates a file, even forced
            raise WantuiError("no longer exists; undo does not create files", path=path)
        before = entry.get("sha256_before")
        if current[path] is not None and current[path] == before != entry.get("sha256_after"):
            # the journal is written ahead of the file: an apply killed between its
            # record and its rename left the old bytes. Close the record, touch nothing.
            prepared.append((entry, path, None))
            continue
        if not force and current[path] != entry.get("sha256_after"):
            raise WantuiError(
                "changed since the fix was applied; undo would lose those edits (use --force to undo anyway)",
                path=path,
                code=ExitCode.FINDINGS,
            )
        current[path] = entry.get("sha256_before")
        prepared.append((entry, path, old))
    results: list[UndoResult] = []
    for entry, path, old in prepared:
        if old is None:
            journal.append(
                {"type": "undo", "of": entry["id"], "time": time.time(), "landed": False}
            )
            results.append(UndoResult(entry, path, None, landed=False))
            continue
        fd = journal.open_for_append()
        try:
            current_backup = atomic_write(path, old, project_root=journal.root)
            journal.write_line(
                fd, {"type": "undo", "of": entry["id"], "time": time.time(), "file": str(path)}
            )
        finally:
            os.close(fd)
        results.append(UndoResult(entry, path, current_backup))
    first = results[0]
    first.others = results[1:]
    return first


def _current_sha(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WantuiError(f"cannot read: {exc.strerror}", path=path) from None


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _prepared_restore(journal: Journal, entry: dict[str, Any]) -> tuple[Path, bytes]:
    """The file an undo of ``entry`` restores and the bytes it restores, checked: a
    journal is a file in an untrusted folder, and a crafted one must not make undo write
    anywhere but the project's own inputs, nor restore bytes from anywhere but the
    project's backups folder, nor anything without the sha256 the fix wrote."""
    after = entry.get("sha256_after")
    if not isinstance(after, str) or not _SHA256.fullmatch(after):
        raise WantuiError(
            "the journal entry has no sha256 of the fixed file; not restoring", path=journal.path
        )
    root = Path(os.path.abspath(journal.root))
    path = Path(os.path.abspath(entry["file"]))
    backup = entry.get("backup")
    if not backup:
        raise WantuiError("the fix has no backup to restore from", path=path)
    # the backup is read only from this project's own backups folder, by name
    folder = state_folder(root, BACKUP_DIR.name, create=False)
    recorded = Path(os.path.abspath(backup))
    backup_path = folder / recorded.name
    if recorded.parent.name != BACKUP_DIR.name or recorded.parent.parent.name != STATE_DIR:
        # a journal line edited to restore some other file's bytes: not ours
        raise WantuiError(
            f"the journal names a backup outside {folder}; not restoring", path=journal.path
        )
    old_root = recorded.parent.parent.parent
    if old_root != root:
        # the project folder was moved or renamed since: the journal's absolute paths
        # point at the old place; read them relative to it
        with contextlib.suppress(ValueError):
            path = root / path.relative_to(old_root)
    lone_dataset = (
        not (root / PROJECT_FILE).is_file()
        and entry.get("role") in (None, "dataset_config")
        and path.parent == root
        and path.suffix.lower() == ".toml"
    )
    if str(path) not in _project_inputs(root) and not lone_dataset:
        raise WantuiError(
            f"the journal names {path}, which is not one of the project's inputs inside"
            f" {root}; not restoring (its backup is {backup_path})",
            path=journal.path,
        )
    real = Path(os.path.realpath(path))
    if not _inside(real, Path(os.path.realpath(root))):
        raise WantuiError(
            f"resolves to {real}, outside the project folder; not restoring"
            f" (its backup is {backup_path})",
            path=path,
        )
    old = read_regular_file(backup_path, limit=MAX_BACKUP_BYTES, what="backup", nofollow=True)
    if sha256_bytes(old) != entry.get("sha256_before"):
        raise WantuiError(
            "the backup does not match the journal (it was modified); not restoring",
            path=backup_path,
        )
    return path, old


def _project_inputs(root: Path) -> set[str]:
    """The files an undo may restore: ``wantui.toml`` and the dataset config it names
    (both must still resolve inside ``root``, checked by the caller)."""
    inputs = {os.path.abspath(root / PROJECT_FILE)}
    if (root / PROJECT_FILE).is_file():
        from wantui.core.project import load_project

        with contextlib.suppress(WantuiError):  # a broken wantui.toml may be what to undo
            ds = load_project(root).dataset_config_path()
            if ds is not None:
                inputs.add(os.path.abspath(ds))
    return inputs


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False
