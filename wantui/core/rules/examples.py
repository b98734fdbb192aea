"""Example logs with their verdict marked inside: the one fixture format.

A line of an example log that starts with ``#=`` is a fixture marker; everything else is
the log exactly as the product sees it. :func:`read_marked_log` removes the markers and
returns the original bytes with what they expect (rules/FORMAT.md, "Examples"):

- ``#=VERDICT=# {json}``: the file-level verdict, one line before the log's first line
  (keys in :data:`VERDICT_KEYS` order; ``catalog`` and ``note`` required);
- ``#=MATCH=# <rule-id> {"capture": "value"}``: the next log line must be the trigger
  line of a finding of that rule, with those captures (the JSON is optional);
- ``#=NOMATCH=# <rule-id>``: that rule must produce no finding on this log.

Line numbers of expectations are those of the stripped log (what a finding's evidence
says). Markers are ASCII; the log around them may be in any encoding.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.errors import WantuiError

MARK = b"#="
VERDICT = "#=VERDICT=#"
MATCH = "#=MATCH=#"
NOMATCH = "#=NOMATCH=#"
MAX_EXAMPLE_BYTES = 16 * 1024 * 1024  # an example log bigger than this is a mistake

# The one key order of a verdict (canonical layout). What each means: fixtures/README.md.
VERDICT_KEYS = (
    "catalog",  # ranked catalog ids of the findings, cause first
    "rules",  # ranked rule ids of the findings
    "exit",  # wantui's exit code for the log
    "exit_status",  # the step's own exit status, when the log's owner knew it
    "note",  # why the verdict is right, from the log's lines
    "source",  # public URL the log comes from
    "engine_gap",  # why the engine cannot give the right verdict yet (expected failure)
    "command",  # captured real runs: the command line
    "cwd",
    "musubi",
    "captured",
    "how",
    "trimmed",
    "derived_from",
)
_LISTS = ("catalog", "rules")
_INTS = ("exit", "exit_status")
_REQUIRED = ("catalog", "note")
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9-]*\Z")


@dataclass(frozen=True)
class Expectation:
    """``#=MATCH=#``: a finding of ``rule`` triggered on ``line`` (of the stripped log)
    with these ``captures``; ``marker_line`` is where the marker is in the file."""

    rule: str
    line: int
    captures: dict[str, str]
    marker_line: int


@dataclass(frozen=True)
class MarkedLog:
    path: Path
    data: bytes  # the log without its markers
    verdict: dict[str, Any] | None
    matches: tuple[Expectation, ...] = ()
    nomatches: tuple[str, ...] = ()
    nomatch_lines: dict[str, int] = field(default_factory=dict)  # rule id -> marker line

    @property
    def positive(self) -> set[str]:
        return {e.rule for e in self.matches}

    @property
    def negative(self) -> set[str]:
        return set(self.nomatches)

    @property
    def marked(self) -> bool:
        return bool(self.matches or self.nomatches)


def _fail(path: Path, line: int, message: str) -> WantuiError:
    return WantuiError(message, path=path, line=line)


def _json_object(path: Path, n: int, text: str, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, n, f"{what}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise _fail(path, n, f"{what}: expected a JSON object {{...}}")
    return obj


def _check_verdict(path: Path, n: int, verdict: dict[str, Any]) -> None:
    unknown = [k for k in verdict if k not in VERDICT_KEYS]
    if unknown:
        raise _fail(
            path, n, f"{VERDICT}: unknown key '{unknown[0]}' (known: {', '.join(VERDICT_KEYS)})"
        )
    for k in _REQUIRED:
        if k not in verdict:
            raise _fail(path, n, f"{VERDICT}: '{k}' is required")
    for k, v in verdict.items():
        if k in _LISTS:
            ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
            kind = "a list of strings"
        elif k in _INTS:
            ok = isinstance(v, int) and not isinstance(v, bool)
            kind = "an integer"
        else:
            ok = isinstance(v, str) and (k != "note" or v.strip() != "")
            kind = "a non-empty string" if k == "note" else "a string"
        if not ok:
            raise _fail(path, n, f"{VERDICT}: '{k}' must be {kind}")


def _rule_and_rest(path: Path, n: int, marker: str, rest: str) -> tuple[str, str]:
    rule, _, tail = rest.strip().partition(" ")
    if not _RULE_ID.match(rule):
        raise _fail(path, n, f"{marker}: expected a rule id (kebab-case), got '{rule}'")
    return rule, tail.strip()


def parse_marked_log(data: bytes, path: str | Path) -> MarkedLog:
    """Split ``data`` into the log and its markers; a malformed marker is a
    :class:`WantuiError` naming the file and line."""
    p = Path(path)
    kept: list[bytes] = []
    verdict: dict[str, Any] | None = None
    matches: list[Expectation] = []
    pending: list[tuple[str, dict[str, str], int]] = []  # MATCH markers awaiting their line
    nomatches: dict[str, int] = {}
    seen_log_line = False
    for n, raw in enumerate(_lines(data), 1):
        if not raw.startswith(MARK):
            if pending:
                number = len(kept) + 1
                matches.extend(Expectation(r, number, c, m) for r, c, m in pending)
                pending = []
            kept.append(raw)
            seen_log_line = True
            continue
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise _fail(p, n, "a marker line (starting with '#=') must be UTF-8 text") from None
        marker, _, rest = text.partition(" ")
        if marker == VERDICT:
            if verdict is not None:
                raise _fail(p, n, f"a second {VERDICT} (one per file)")
            if seen_log_line:
                raise _fail(p, n, f"{VERDICT} must come before the log's first line")
            verdict = _json_object(p, n, rest, VERDICT)
            _check_verdict(p, n, verdict)
        elif marker == MATCH:
            rule, tail = _rule_and_rest(p, n, MATCH, rest)
            caps = _json_object(p, n, tail, f"{MATCH} {rule}") if tail else {}
            if not all(isinstance(v, str) for v in caps.values()):
                raise _fail(p, n, f"{MATCH} {rule}: capture values must be strings")
            pending.append((rule, caps, n))
        elif marker == NOMATCH:
            rule, tail = _rule_and_rest(p, n, NOMATCH, rest)
            if tail:
                raise _fail(p, n, f"{NOMATCH} {rule}: nothing may follow the rule id")
            nomatches.setdefault(rule, n)
        else:
            raise _fail(
                p,
                n,
                f"unknown fixture marker '{marker}' (a line starting with '#=' must be "
                f"{VERDICT}, {MATCH} or {NOMATCH})",
            )
    if pending:
        raise _fail(p, pending[-1][2], f"{MATCH} {pending[-1][0]}: no log line follows it")
    both = sorted({e.rule for e in matches} & set(nomatches))
    if both:
        raise _fail(p, nomatches[both[0]], f"rule {both[0]} is both {MATCH} and {NOMATCH}")
    return MarkedLog(p, b"".join(kept), verdict, tuple(matches), tuple(nomatches), dict(nomatches))


def _lines(data: bytes) -> list[bytes]:
    """Lines split at ``\\n`` only (a ``\\r`` is part of its line, as for the product)."""
    out = data.split(b"\n")
    last = out.pop()
    lines = [x + b"\n" for x in out]
    if last:
        lines.append(last)
    return lines


def read_marked_log(path: str | Path, *, limit: int = MAX_EXAMPLE_BYTES) -> MarkedLog:
    """Read and parse one example log (at most ``limit`` bytes)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise WantuiError(f"cannot read: {exc.strerror or exc}", path=p) from None
    if len(data) > limit:
        raise WantuiError(f"an example log is at most {limit} bytes", path=p)
    return parse_marked_log(data, p)


def examples_in(folder: Path) -> list[MarkedLog]:
    """Every ``*.log`` of an examples folder, parsed, sorted by name."""
    if not folder.is_dir():
        return []
    return [read_marked_log(f) for f in sorted(folder.glob("*.log"))]


# -- canonical layout ---------------------------------------------------------------
def format_verdict(verdict: dict[str, Any]) -> str:
    ordered = {k: verdict[k] for k in VERDICT_KEYS if k in verdict}
    return f"{VERDICT} {json.dumps(ordered, ensure_ascii=True)}"


def format_match(rule: str, captures: dict[str, str] | None = None) -> str:
    if not captures:
        return f"{MATCH} {rule}"
    return f"{MATCH} {rule} {json.dumps(dict(sorted(captures.items())), ensure_ascii=True)}"


def format_nomatch(rule: str) -> str:
    return f"{NOMATCH} {rule}"


def canonical(data: bytes, path: str | Path) -> bytes:
    """The same file with every marker line rewritten in the canonical layout (key order,
    spacing, ASCII); the log lines and what the markers say are unchanged."""
    parse_marked_log(data, path)  # malformed markers are an error, never rewritten
    out: list[bytes] = []
    for raw in _lines(data):
        if not raw.startswith(MARK):
            out.append(raw)
            continue
        text = raw.decode("utf-8").rstrip("\r\n")
        marker, _, rest = text.partition(" ")
        if marker == VERDICT:
            line = format_verdict(json.loads(rest))
        else:
            rule, _, tail = rest.strip().partition(" ")
            if marker == MATCH:
                line = format_match(rule, json.loads(tail) if tail.strip() else None)
            else:
                line = format_nomatch(rule)
        out.append(line.encode("ascii") + b"\n")
    return b"".join(out)
