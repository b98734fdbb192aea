"""Reading log files for a diagnosis: files or stdin, NUL padding, UTF-16, binary input
refused with a one-line error. :func:`diagnose_logs` runs them through one
:class:`~wantui.core.diagnosis.Session` (whose matcher finds the relevant lines with RE2,
see :mod:`wantui.core.literalscan`: no external program)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from wantui.core.diagnosis import Session
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding
from wantui.core.rules import RuleSet

CHUNK = 4 * 1024 * 1024
_SNIFF = 8192


def step_of_log(name: str) -> str | None:
    """The pipeline step a log is from, by the supervisor's naming (runs/<id>/<step>.log)."""
    if name == "-" or not name.endswith(".log"):
        return None
    path = Path(name)
    # only in a run folder (beside its run.json): elsewhere train.log is any log
    in_run = (path.parent / "run.json").is_file()
    if not in_run:
        return None
    from wantui.core.project import STEP_NAMES  # (tomlkit and the project model: only here)

    return path.stem if path.stem in STEP_NAMES else None


def open_log(name: str) -> BinaryIO:
    """Open a log for reading, or raise a one-line WantuiError naming it."""
    if name == "-":
        return sys.stdin.buffer
    path = Path(name)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise WantuiError("no such file", path=path) from None
    except OSError as exc:
        raise WantuiError(f"cannot read: {exc.strerror or exc}", path=path) from None
    if stat.S_ISDIR(st.st_mode):
        raise WantuiError("is a directory, not a log file", path=path)
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise WantuiError(f"cannot read: {exc.strerror or exc}", path=path) from None


def skip_nul_padding(fh: BinaryIO, head: bytes, name: str) -> bytes:
    """``head`` without the run of NULs a log may start with, reading on while it is all
    NULs: logrotate's ``copytruncate`` leaves the truncated part as a sparse run of NULs
    in front of what the program writes next. Not binary, and not text either: dropped
    (it holds no newline, so line numbers do not change)."""
    while head and not head.strip(b"\x00"):
        try:
            head = fh.read(CHUNK)
        except OSError as exc:
            raise WantuiError(f"cannot read: {exc.strerror or exc}", path=name) from None
    return head.lstrip(b"\x00")


def _chunks(fh: BinaryIO, name: str) -> Iterator[bytes]:
    first = True
    while True:
        try:
            chunk = fh.read(CHUNK)
        except OSError as exc:
            raise WantuiError(f"cannot read: {exc.strerror or exc}", path=name) from None
        if first and chunk.startswith(b"\x00"):
            chunk = skip_nul_padding(fh, chunk, name)
        if not chunk:
            return
        if first:
            first = False
            head = chunk[:_SNIFF]
            # Text logs never contain NUL; UTF-16 (a PowerShell `>` redirect) does.
            if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise WantuiError("binary file, not a text log", path=name)
            if head.startswith((b"\xff\xfe", b"\xfe\xff")):
                yield from _utf16(fh, chunk, name)
                return
        yield chunk


def _utf16(fh: BinaryIO, first: bytes, name: str) -> Iterator[bytes]:
    """PowerShell writes UTF-16 with a BOM; re-encode to UTF-8 as we go."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-16")(errors="replace")
    chunk = first
    while chunk:
        yield dec.decode(chunk).encode("utf-8")
        try:
            chunk = fh.read(CHUNK)
        except OSError as exc:
            raise WantuiError(f"cannot read: {exc.strerror or exc}", path=name) from None
    yield dec.decode(b"", final=True).encode("utf-8")


def _feed(session: Session, fh: BinaryIO, label: str) -> int:
    for chunk in _chunks(fh, label):
        session.feed(label, chunk)
    session.end(label)
    return session.stream(label).normalizer.bytes_seen


def diagnose_logs(
    names: list[str],
    rules: RuleSet,
    context: dict[str, str] | None = None,
    exit_status: int | None = None,
    *,
    steps: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> tuple[Session, list[str]]:
    """Diagnose log files (``-``: stdin) as one run, in turn (so a cause in the caching
    log explains a failure in the training log). ``steps`` maps a name to the pipeline
    step that wrote it (its rules only); by default a run folder's ``<step>.log`` is that
    step's, other files get every rule. ``labels``: how evidence names a file (default:
    as given). Returns the finished session and the empty inputs.

    """
    # the traceback anatomy checks the files an exception names, from where wantui runs
    session = Session(rules, context, path_probe=(os.path.exists, os.listdir))
    empty: list[str] = []
    for name in names:
        label = "<stdin>" if name == "-" else (labels or {}).get(name, name)
        step = (steps or {}).get(name) or step_of_log(name)
        session.start(label, step=step, source=label)
        fh = open_log(name)
        try:
            if _feed(session, fh, label) == 0:
                empty.append(label)
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()
    session.finish(exit_status)
    return session, empty


def log_findings(path: Path, rules: RuleSet, project: Any = None) -> list[Finding]:
    """The findings of one saved log (``wantui fix --log``), with what the dataset folders
    hold now: "found 0 videos" is explained by the folder as it is, not by caching again.
    Only a regular file: a FIFO or /dev/zero never ends (``wantui diagnose -`` reads pipes)."""
    if path.is_dir():
        raise WantuiError("is a directory, not a log file", path=path)
    if not path.exists():
        raise WantuiError("no such file", path=path)
    if not path.is_file():
        raise WantuiError("is not a regular file; save the log to a file first", path=path)
    context: dict[str, str] = {"source": str(path)}
    ds = project.dataset_config_path() if project is not None and project.dataset_config else None
    if ds is not None:
        context["dataset_config"] = str(ds)
    found = diagnose_logs([str(path)], rules, context)[0].findings()
    if ds is not None and ds.is_file():
        from wantui.core.args.command import dataset_findings
        from wantui.core.dataset.links import explain_empty_from_disk

        found = explain_empty_from_disk(found, dataset_findings(ds, project.cwd()))
    return found
