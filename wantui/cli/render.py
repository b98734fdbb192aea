"""Printing findings: text for humans (80 columns, colour only on a TTY) or one JSON object.

Every CLI command that prints findings uses :func:`render_findings`, so they all look
the same and their ``--json`` output has the same shape:
``{"findings": [Finding.to_json(), ...], "source": ..., **extra}``.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from typing import Any, TextIO

from wantui.core.finding import Finding, Severity
from wantui.core.textsafe import json_text, printable

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold cyan"}
_LABEL = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}
MAX_EVIDENCE = 12  # lines shown per finding in text mode (JSON has them all)
MAX_EVIDENCE_CHARS = 400


def _wrap(text: str, width: int, **kw: str) -> list[str]:
    # never split "musubi-tuner" or "--gradient_checkpointing" at a hyphen
    return textwrap.wrap(text, width, break_on_hyphens=False, **kw)


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(stream: TextIO, colour: bool) -> int:
    if not colour:
        return 80
    return max(40, min(shutil.get_terminal_size((80, 24)).columns, 120))


def summary_line(findings: list[Finding]) -> str:
    n = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    if not findings:
        return "No problems found."
    parts = [f"{n[s]} {s.value}{'s' if n[s] != 1 else ''}" for s in Severity if n[s]]
    total = len(findings)
    return f"{total} finding{'s' if total != 1 else ''}: {', '.join(parts)}."


def _evidence_lines(f: Finding, many_sources: bool) -> list[tuple[bool, str]]:
    """(is_source_header, text) pairs: with several inputs, a header names each file."""
    out: list[tuple[bool, str]] = []
    shown = f.evidence[:MAX_EVIDENCE]
    current: str | None = None
    for e in shown:
        if many_sources and e.source and e.source != current:
            current = e.source
            out.append((True, f"in {e.source}:"))
        text = e.text if len(e.text) <= MAX_EVIDENCE_CHARS else e.text[:MAX_EVIDENCE_CHARS] + " ..."
        rank = ""
        if e.ranks:
            rank = (
                f"  [rank {e.ranks[0]}]"
                if len(e.ranks) == 1
                else f"  [ranks {','.join(map(str, e.ranks))}]"
            )
        out.append((False, f"line {e.line}: {text.strip()}{rank}"))
    if len(f.evidence) > len(shown):
        out.append(
            (False, f"... {len(f.evidence) - len(shown)} more evidence line(s) (see --json)")
        )
    return out


def format_finding(
    f: Finding, *, width: int = 80, many_sources: bool = False
) -> list[tuple[str, str]]:
    """A finding as (text, style) lines, wrapped to ``width``."""
    lines: list[tuple[str, str]] = []
    head = f"{_LABEL[f.severity]}  {f.title}"
    for i, chunk in enumerate(_wrap(head, width, subsequent_indent="  ") or [head]):
        lines.append((chunk, _STYLE[f.severity] if i == 0 else "bold"))
    meta = f"  rule {f.rule}, catalog {f.catalog}"
    if f.consequence_of:
        meta += f"; a consequence of {f.consequence_of}"
    lines.append((meta, "dim"))
    ev = _evidence_lines(f, many_sources)
    if ev:
        lines.append(("  Evidence:", "bold"))
        for header, e in ev:
            if header:  # a path: never broken inside
                lines.append(("    " + e, ""))
                continue
            for chunk in _wrap(e, width, initial_indent="    ", subsequent_indent="        ") or [
                e
            ]:
                lines.append((chunk, "dim"))
    if f.location is not None:
        lines.append((f"  At: {f.location}", ""))
    if f.message.strip():
        lines.append(("  Why:", "bold"))
        for para in f.message.strip().split("\n\n"):
            flat = " ".join(para.split())
            for chunk in _wrap(flat, width, initial_indent="    ", subsequent_indent="    "):
                lines.append((chunk, ""))
    if f.anatomy:
        from wantui.core.traceback_anatomy import summary_lines

        lines.append(("  Traceback anatomy:", "bold"))
        for item in summary_lines(f.anatomy):
            for chunk in _wrap(item, width, initial_indent="    ", subsequent_indent="        "):
                lines.append((chunk, ""))
    if f.advice or f.fixes:
        lines.append(("  What to do:", "bold"))
        for a in f.advice:
            for chunk in _wrap(a, width, initial_indent="    - ", subsequent_indent="      "):
                lines.append((chunk, ""))
        for fx in f.fixes:
            label = fx.label or fx.action
            tag = "fix" if fx.auto else "fix (manual)"
            for chunk in _wrap(
                f"{tag}: {label}", width, initial_indent="    * ", subsequent_indent="      "
            ):
                lines.append((chunk, "green"))
    return lines


JSON_SCHEMA = 1  # bump when a --json field changes its meaning or goes away (docs/json.md)


def json_version() -> dict[str, Any]:
    """The ``version`` object of every --json output: wantui's version and the schema's."""
    from wantui import __version__

    return {"wantui": __version__, "schema": JSON_SCHEMA}


def write_json(obj: dict[str, Any], stream: TextIO | None = None) -> None:
    """Print one --json result: an object whose first field is ``version`` (docs/json.md).
    Text from outside stays exact, its terminal controls escaped (json_text)."""
    if "version" in obj:
        raise ValueError("a --json result names its own 'version'")  # it would hide ours
    out = stream if stream is not None else sys.stdout
    out.write(json_text({"version": json_version(), **obj}, indent=2) + "\n")
    out.flush()


def render_findings(
    findings: list[Finding],
    *,
    stream: TextIO,
    json_mode: bool,
    source: str | list[str] | None = None,
    extra: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    """Print ``findings`` (already ranked) to ``stream``; ``note``: a last line of text
    output (what the options were checked against)."""
    if json_mode:
        obj: dict[str, Any] = {"findings": [f.to_json() for f in findings], "source": source}
        if extra:
            obj.update(extra)
        write_json(obj, stream)
        return
    colour = use_colour(stream)
    width = _width(stream, colour)
    sources = {e.source for f in findings for e in f.evidence if e.source}
    many = isinstance(source, list) and len(source) > 1 or len(sources) > 1
    out: list[tuple[str, str]] = []
    for i, f in enumerate(findings):
        if i:
            out.append(("", ""))
        out.extend(format_finding(f, width=width, many_sources=many))
    if findings:
        out.append(("", ""))
    out.append((summary_line(findings), "bold"))
    if note:
        out.append((note, "dim"))
    if colour:
        from rich.console import Console
        from rich.text import Text

        console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False, markup=False)
        for text, style in out:
            console.print(Text(printable(text), style=style or ""))
    else:
        # titles, evidence, paths and advice carry text from logs and file names
        stream.write("\n".join(printable(text) for text, _ in out) + "\n")
    stream.flush()


def report_rule_load(rules: Any, stream: TextIO | None = None) -> None:
    """Say on stderr which user rules were skipped (broken, or a project folder's rules
    not trusted) and which built-in rules a user rule replaces."""
    import sys

    out = stream if stream is not None else sys.stderr
    for problem in rules.problems:
        out.write(printable(f"wantui: warning: {problem} (rule skipped)") + "\n")
    for note in getattr(rules, "notices", ()):
        out.write(printable(f"wantui: note: {note}") + "\n")
    out.flush()
