"""The headless core as the TUI sees it, with each import guarded.

The core is built in parallel with the TUI; a module that is not there yet makes its
feature say "not available" instead of breaking the app, and the TUI never grows its own
parsing or deciding to fill the gap.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from typing import Any


@cache
def module(name: str) -> Any | None:
    """``wantui.core.<name>`` or None when it has not landed (or fails to import)."""
    try:
        return importlib.import_module(f"wantui.core.{name}")
    except Exception:  # an unfinished module elsewhere must not take the app down
        return None


def decode_line(raw: bytes) -> str:
    logtext = module("logtext")
    if logtext is not None and hasattr(logtext, "decode_line"):
        return logtext.decode_line(raw)
    return raw.decode("utf-8", errors="replace")


class _NoNormalizer:
    def feed(self, data: bytes) -> list[Any]:
        return []

    def close(self) -> list[Any]:
        return []


# raw lines the progress tracker needs even when no rule is interested in them
_PROGRESS_BYTES = rb"it/s|s/it|epoch \d|saving checkpoint: "


def make_normalizer(matcher: Any = None) -> Any:
    """A Normalizer that only decodes lines a rule or the progress tracker can use
    (the matcher's literal prefilter, at C speed): the bulk of a flood is skipped."""
    logtext = module("logtext")
    if logtext is None:
        return _NoNormalizer()
    keep = None
    pre = getattr(matcher, "prefilter_bytes", None)
    pattern = pre() if pre is not None else None
    if pattern is not None:
        keep = re.compile(b"(?:" + pattern.pattern + b")|" + _PROGRESS_BYTES, pattern.flags)
    elif matcher is None:
        keep = re.compile(_PROGRESS_BYTES)
    return logtext.Normalizer(keep=keep)


def matcher_available() -> bool:
    return module("matcher") is not None and module("rules") is not None


def load_rules_or_none() -> Any | None:
    rules = module("rules")
    if rules is None or not hasattr(rules, "load_rules"):
        return None
    try:
        return rules.load_rules()
    except Exception:  # invalid built-in rules are the rules engineer's test failure
        return None


def make_matcher(rules: Any, context: dict[str, str] | None) -> Any | None:
    matcher = module("matcher")
    if matcher is None or rules is None:
        return None
    return matcher.Matcher(rules, context)


def make_stats() -> Any | None:
    progress = module("progress")
    if progress is None or not hasattr(progress, "RunStats"):
        return None
    return progress.RunStats()


def stats_feed(stats: Any, line: Any) -> Any | None:
    """Feed one Line; return the new Progress when this line carried one."""
    for name in ("feed", "add", "update", "consume"):
        fn = getattr(stats, name, None)
        if fn is not None:
            before = getattr(stats, "last", None) or getattr(stats, "progress", None)
            out = fn(line)
            after = getattr(stats, "last", None) or getattr(stats, "progress", None)
            if out is not None and hasattr(out, "step"):
                return out
            return after if after is not before else None
    return None


def checkpoints(stats: Any) -> list[str]:
    if stats is None:
        return []
    for name in ("checkpoints", "saved", "saved_checkpoints"):
        value = getattr(stats, name, None)
        if value is not None:
            return [str(v) for v in value]
    return []


def losses(stats: Any) -> dict[int, float]:
    """step -> avr_loss, in the order the steps were seen."""
    value = getattr(stats, "losses", None) if stats is not None else None
    return value if isinstance(value, dict) else {}
