"""``wantui diagnose LOG... | -``: explain musubi-tuner logs.

Exit codes: 0 no error finding, 1 an error finding, 2 usage, unreadable input or
invalid rules (see ExitCode).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from wantui.cli.render import render_findings, report_rule_load
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.finding import exit_code_for
from wantui.core.logtext import Normalizer, grep_lines
from wantui.core.matcher import Matcher
from wantui.core.rules import RuleSet, load_rules
from wantui.core.textsafe import printable

CHUNK = 4 * 1024 * 1024
_SNIFF = 8192


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logs", nargs="+", metavar="LOG", help="log file(s), or - for stdin")
    parser.add_argument("--json", action="store_true", help="print one JSON object (docs/json.md)")
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a value for rule templates, e.g. dataset_config=data/dataset.toml, step=train",
    )
    parser.add_argument(
        "--exit-status",
        type=int,
        default=None,
        metavar="N",
        help="the step's exit status, if known",
    )
    parser.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="DIR",
        help="an extra rule folder (errors in it are fatal)",
    )
    parser.add_argument(
        "--no-builtin-rules",
        action="store_true",
        help="use only the rules of --rules folders (and user folders)",
    )
    parser.add_argument(
        "--no-user-rules",
        action="store_true",
        help="ignore ~/.config/wantui/rules and ./.wantui/rules",
    )


def parse_context(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise WantuiError(f"--context expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


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


class _Prefixed:
    """A binary stream with bytes already read put back in front (stdin cannot seek)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            out, self._head = self._head, b""
            return out
        return self._rest.read(n)


def _grep() -> str | None:
    """An external grep for the literal prefilter, unless WANTUI_NO_GREP is set or the
    grep found does not take the options used (a minimal busybox build, say)."""
    if os.environ.get("WANTUI_NO_GREP"):
        return None
    import shutil
    import subprocess

    grep = shutil.which("grep")
    if grep is None:
        return None
    probe = [grep, "-a", "-n", "-E", "-i", "-e", "[w]antui", "--", os.devnull]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=10).returncode == 1
    except (OSError, subprocess.SubprocessError):
        ok = False
    return grep if ok else None


def _feed_python(matcher: Matcher, fh: BinaryIO, label: str, keep) -> int:  # noqa: ANN001
    # the block scanner when the rules allow one; the regex prefilter otherwise
    norm = Normalizer(keep=keep, prefilter=matcher.prefilter())
    for chunk in _chunks(fh, label):
        for line in norm.feed(chunk):
            matcher.feed(line)
    for line in norm.close():
        matcher.feed(line)
    return norm.bytes_seen


def diagnose_streams(
    names: list[str], rules: RuleSet, context: dict[str, str], exit_status: int | None
):
    """Run one matcher over every log in turn (so a cause in the caching log explains a
    failure in the training log). Returns (findings, list of empty inputs).

    Regular files go through ``grep -E`` with the rules' literals when grep exists (the
    same lines as the Python prefilter, found at grep's speed); UTF-16 logs and machines
    without grep use the Python prefilter. stdin is pumped into grep by a thread.
    """
    matcher = Matcher(rules, context)
    # the traceback anatomy checks the files an exception names, from where wantui runs
    matcher.path_probe = (os.path.exists, os.listdir)
    keep = matcher.prefilter_bytes()
    literals = matcher.prefilter_literals()
    grep = _grep() if literals is not None else None
    empty: list[str] = []
    for name in names:
        label = "<stdin>" if name == "-" else name
        matcher.set_source(label)
        fh = open_log(name)
        try:
            if grep is None or literals is None:
                if _feed_python(matcher, fh, label, keep) == 0:
                    empty.append(label)
                continue
            try:
                head = fh.read(_SNIFF)
            except OSError as exc:
                raise WantuiError(f"cannot read: {exc.strerror or exc}", path=label) from None
            head = skip_nul_padding(fh, head, label)
            if not head:
                empty.append(label)
                continue
            if (
                b"\x00" in head
                or head.startswith((b"\xff\xfe", b"\xfe\xff"))
                or (b"\n" not in head and b"\r" in head)
            ):
                # binary (raises), UTF-16 or \r line ends (old Mac; grep would see one
                # line) go through Python; stdin cannot seek back
                _feed_python(matcher, _Prefixed(head, fh), label, keep)
                continue
            plain, folded = literals
            try:
                found = grep_lines(
                    name,
                    plain + folded,
                    ignore_case=bool(folded),
                    keep=keep,
                    grep=grep,
                    source=fh,  # pumped, each line bounded: grep's memory stays small
                    prefix=head,
                )
                for line in found:
                    matcher.feed(line)
            except OSError as exc:
                raise WantuiError(f"cannot read: {exc}", path=label) from None
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()
    matcher.finish(exit_status)
    return matcher.findings(), empty


def run(args: argparse.Namespace) -> int:
    context = parse_context(args.context)
    if args.logs.count("-") > 1:
        raise WantuiError("stdin (-) can be given only once")
    rules = load_rules(
        args.rules, include_user=not args.no_user_rules, include_builtin=not args.no_builtin_rules
    )
    report_rule_load(rules)
    if len(args.logs) == 1 and "source" not in context:
        context["source"] = "<stdin>" if args.logs[0] == "-" else args.logs[0]
    findings, empty = diagnose_streams(args.logs, rules, context, args.exit_status)
    for name in empty:
        print(printable(f"wantui: {name}: empty log, nothing to diagnose"), file=sys.stderr)
    source: str | list[str] = args.logs[0] if len(args.logs) == 1 else list(args.logs)
    render_findings(findings, stream=sys.stdout, json_mode=args.json, source=source)
    return ExitCode.FINDINGS if exit_code_for(findings) else ExitCode.OK


if os.name == "nt":  # pragma: no cover - keep stdin binary on Windows
    try:
        import msvcrt

        msvcrt.setmode(sys.stdin.fileno(), os.O_BINARY)
    except (ImportError, OSError, ValueError):
        pass
