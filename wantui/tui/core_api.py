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

from wantui.core.errors import WantuiError


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
    # history: every \r state of a bar, so the loss plot has every step, not one per line
    return logtext.Normalizer(keep=keep, history=True)


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


def atomic_write(path: Any, data: bytes, *, project_root: Any = None) -> None:
    """The fix engine's atomic write (temp + fsync + rename, with a backup)."""
    fsutil = module("fsutil")
    if fsutil is None:
        raise OSError("atomic writes: not available yet")
    fsutil.atomic_write(path, data, project_root=project_root)


def check_dataset(path: Any, cwd: Any) -> tuple[str, list[Any]]:
    """Media/caption counts per dataset, and every finding of the dataset checks."""
    ds = module("dataset")
    scan = module("dataset.scan")
    if ds is None:
        return "dataset checks: not available yet", []
    findings = list(ds.check_dataset_config(path, cwd))
    lines: list[str] = []
    if scan is not None:
        try:
            cfg = ds.load_dataset_config(path)
            for s in scan.scan_datasets(cfg, cwd):
                where = s.directory if s.directory is not None else "(jsonl)"
                state = "" if s.exists else "  (folder does not exist)"
                lines.append(
                    f"[{s.index}] {s.kind}s in {where}: {len(s.media)} found, "
                    f"{len(s.captions_missing)} without a caption, {len(s.ignored)} ignored{state}"
                )
        except WantuiError as exc:  # the findings above already explain a bad config
            lines.append(f"scan skipped: {exc}")
    return "\n".join(lines) or "nothing scanned", findings


def preflight(project: Any, probe: Any = None) -> list[Any]:
    """All preflight findings (files, inputs, the probe), or the project checks alone."""
    pre = module("preflight")
    if pre is not None:
        return list(pre.preflight(project, probe=probe))
    args = module("args")
    return list(args.check_project(project)) if args is not None else []


def partial_lines(number: int, raw: bytes) -> list[Any]:
    """Lines for the state of a line still being rewritten with ``\\r`` (a tqdm bar that
    has not reached its newline): progress and precursors must not wait for the epoch end."""
    logtext = module("logtext")
    if logtext is None or not hasattr(logtext, "normalize_line"):
        return []
    return logtext.normalize_line(number, logtext.decode_line(raw))
