"""Root causes first: link a dataset finding to the one it follows from.

The schema checks see the TOML, the scan sees the disk; a problem of one often shows up
as a symptom in the other ("2 of 2 videos have no txt caption" because
``caption_extension = "txt"`` has no dot; a missing folder because ``"clips\\train"``
holds a tab). The symptom gets ``consequence_of`` (the cause's rule id, so it sorts after
it) and a sentence naming the cause; the cause becomes at least as severe as what it
causes, and says so.
"""

from __future__ import annotations

from collections.abc import Callable

from wantui.core.finding import Finding

_Match = Callable[[Finding, Finding], bool]


def _same_value(cause: Finding, symptom: Finding) -> bool:
    """Both point at the same value in the same file (the backslash string is the path)."""
    a, b = cause.location, symptom.location
    return (
        a is not None
        and b is not None
        and a.path == b.path
        and a.line is not None
        and (a.line, a.column) == (b.line, b.column)
    )


def _same_caption_extension(cause: Finding, symptom: Finding) -> bool:
    return (
        cause.captures.get("table") in ("general", symptom.captures.get("table"))
        and cause.captures.get("caption_extension") is not None
        and cause.captures.get("caption_extension") == symptom.captures.get("caption_extension")
    )


# (cause rule, symptom rules, how to tell they are about the same thing)
_LINKS: list[tuple[str, frozenset[str], _Match]] = [
    (
        "toml-windows-backslash",
        frozenset({"dataset-directory-missing", "dataset-empty", "dataset-jsonl-missing"}),
        _same_value,
    ),
    ("caption-extension-no-dot", frozenset({"caption-missing"}), _same_caption_extension),
]


def link_causes(findings: list[Finding]) -> list[Finding]:
    """Mark each symptom with its cause, in place; returns ``findings``."""
    for cause_rule, symptom_rules, same in _LINKS:
        for cause in (f for f in findings if f.rule == cause_rule):
            for symptom in findings:
                if (
                    symptom.rule not in symptom_rules
                    or symptom.consequence_of is not None
                    or not same(cause, symptom)
                ):
                    continue
                symptom.consequence_of = cause.rule
                where = f" ({cause.location})" if cause.location else ""
                symptom.message += f" This follows from: {cause.title}{where}; fix that first."
                if symptom.severity.rank > cause.severity.rank:
                    cause.severity = symptom.severity
                cause.priority = max(cause.priority, symptom.priority + 1)
                cause.message += f" It causes: {symptom.title}."
    return findings


# what a log says when a dataset had nothing to cache, and the disk findings that say why
_EMPTY_IN_LOG = frozenset({"dataset-empty", "cache-missing"})
_EMPTY_ON_DISK = frozenset({"dataset-empty", "dataset-directory-missing"})


def explain_empty_from_disk(log: list[Finding], disk: list[Finding]) -> list[Finding]:
    """A log that says "found 0 videos" or "No training items found" is explained by the
    dataset as it is on disk now: the scan's empty or missing folder (with the files seen
    and the nearest folder holding videos) becomes the root cause, and the log findings'
    "run caching again" fixes go, as caching an empty folder changes nothing.

    Returns the log findings followed by the disk findings that explain them."""
    causes = [f for f in disk if f.rule in _EMPTY_ON_DISK]
    if not causes or not any(f.catalog in _EMPTY_IN_LOG for f in log):
        return log
    cause = causes[0]
    for f in log:
        if f.catalog in _EMPTY_IN_LOG:
            f.consequence_of = cause.rule
            f.fixes = [a for a in f.fixes if a.action != "rerun_step"]
            f.message += f" On disk now: {cause.title} ({cause.location}); fix that first."
    for c in causes:
        c.priority = max(c.priority, *(f.priority + 1 for f in log))
    return log + causes
