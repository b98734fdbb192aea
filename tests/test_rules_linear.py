"""Every built-in rule pattern stays linear on a hostile line (issue 10, defect 5).

A log line can be as long as :data:`wantui.core.logtext.MAX_LINE_CHARS` (64 KiB). Each
regex of each built-in rule is run against *near misses* of that length: its own literal
fragments repeated, each fragment followed by a run of one character (``Killed`` + tabs),
one fragment followed by the next one repeated. A linear pattern takes a few
milliseconds; a quadratic one (``\\s+.*`` after ``Killed``, ``X: .*?`` on a line of
``X: `` repeats) takes seconds. Each string is first tried at 8 KiB with a tight bound,
so a regression fails fast instead of hanging the suite.
"""

from __future__ import annotations

import re
import time

import pytest

from wantui.core.logtext import MAX_LINE_CHARS, Line
from wantui.core.matcher import diagnose_lines
from wantui.core.rules import load_rules
from wantui.core.rules.regexcheck import _parse

try:  # Python 3.11+
    import re._parser as _sre  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef]

FILLERS = [" ", "\t", "a", "0", "/", "\\", ":", ".", "-", "(", "'", "x1 "]
PROBE_CHARS = 8 * 1024
PROBE_BOUND_S = 0.08  # a linear pattern: < 1 ms at 8 KiB; host-oom was 0.3 s
FULL_BOUND_S = 0.5  # generous: a linear pattern takes a few ms at 64 KiB


def fragments(pattern: re.Pattern[str]) -> list[str]:
    """The pattern's literal runs (2+ characters), in order, anywhere in the tree."""
    out: list[str] = []

    def walk(items: list) -> None:  # noqa: ANN001 - sre's own tree
        run = ""
        for op, av in items:
            if op == _sre.LITERAL:
                run += chr(av)
                continue
            if len(run) >= 2:
                out.append(run)
            run = ""
            if op == _sre.SUBPATTERN:
                walk(list(av[-1]))
            elif op == _sre.BRANCH:
                for alt in av[1]:
                    walk(list(alt))
            elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) or op == getattr(
                _sre, "POSSESSIVE_REPEAT", None
            ):
                walk(list(av[2]))
            elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
                walk(list(av[1]))
        if len(run) >= 2:
            out.append(run)

    walk(list(_parse(pattern.pattern, pattern.flags & ~re.UNICODE)))
    return list(dict.fromkeys(out))[:8]


def _fill(unit: str, n: int, head: str = "") -> str:
    body = unit * ((n - len(head)) // max(1, len(unit)) + 1)
    return (head + body)[:n]


def near_misses(pattern: re.Pattern[str], n: int) -> list[tuple[str, str]]:
    """(description, line) pairs of length ``n``."""
    frags = fragments(pattern)
    out = [(f"{c!r} * n", _fill(c, n)) for c in FILLERS]
    for f in frags:
        out.append((f"{f!r} repeated", _fill(f, n)))
        out.append((f"({f!r} + ' ') repeated", _fill(f + " ", n)))
        out += [(f"{f!r} + {c!r} * n", _fill(c, n, f)) for c in FILLERS]
    for a, b in zip(frags, frags[1:]):
        out.append((f"{a!r} + {b!r} repeated", _fill(b, n, a)))
    return out


def _time(regex: re.Pattern[str], s: str) -> float:
    start = time.perf_counter()
    regex.search(s)
    return time.perf_counter() - start


def _slow(regex: re.Pattern[str], s: str, bound: float) -> float | None:
    """The time of a search over ``bound``, measured twice (a busy machine can stall
    any one search); None when it is within the bound."""
    took = _time(regex, s)
    if took <= bound:
        return None
    took = min(took, _time(regex, s))
    return took if took > bound else None


RULES = load_rules(include_user=False).rules


@pytest.mark.timeout(300)
def test_every_builtin_pattern_is_linear_on_max_length_near_misses() -> None:
    assert MAX_LINE_CHARS == 64 * 1024
    slow: list[str] = []
    tried = 0
    for rule in RULES:
        for pat in rule.patterns():
            for what, line in near_misses(pat.regex, PROBE_CHARS):
                took = _slow(pat.regex, line, PROBE_BOUND_S)
                if took is not None:  # don't try 8x the length: it could take minutes
                    slow.append(f"{rule.id}: {pat.source!r} on {what} (8 KiB): {took:.2f}s")
                    continue
                tried += 1
                full = _fill(line, MAX_LINE_CHARS)
                took = _slow(pat.regex, full, FULL_BOUND_S)
                if took is not None:
                    slow.append(f"{rule.id}: {pat.source!r} on {what} (64 KiB): {took:.2f}s")
    assert tried > 5000  # ~150 patterns x ~40 near misses each
    assert not slow, "\n".join(slow)


ENGINE_MODULES = (
    "wantui.core.logtext",
    "wantui.core.matcher",
    "wantui.core.progress",
    "wantui.core.killed",
)


def engine_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """The engine's own regexes (module constants): they run on every line, before any
    rule (the tqdm bar of the normaliser, progress, the run tracker)."""
    import importlib

    out = []
    for name in ENGINE_MODULES:
        for attr, value in vars(importlib.import_module(name)).items():
            if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                out.append((f"{name}.{attr}", value))
    return out


@pytest.mark.timeout(300)
def test_engine_patterns_are_linear_on_max_length_near_misses() -> None:
    slow: list[str] = []
    patterns = engine_patterns()
    assert len(patterns) > 15
    for name, regex in patterns:
        for what, line in near_misses(regex, PROBE_CHARS):
            took = _slow(regex, line, PROBE_BOUND_S)
            if took is not None:
                slow.append(f"{name}: {regex.pattern!r} on {what} (8 KiB): {took:.2f}s")
                continue
            took = _slow(regex, _fill(line, MAX_LINE_CHARS), FULL_BOUND_S)
            if took is not None:
                slow.append(f"{name}: {regex.pattern!r} on {what} (64 KiB): {took:.2f}s")
    assert not slow, "\n".join(slow)


def test_fragments_cover_the_reported_cases() -> None:
    """The near-miss families include the lines the adversarial pass found."""
    by_id = {r.id: r for r in RULES}
    killed = [p for p in by_id["step-killed"].any if "Killed" in p.source][0]
    assert any(s.startswith("Killed\t\t") for _, s in near_misses(killed.regex, 100))
    toml = by_id["toml-parse-error"].any[0]
    assert ("'TomlDecodeError: ' repeated", _fill("TomlDecodeError: ", 100)) in near_misses(
        toml.regex, 100
    )


@pytest.mark.timeout(120)
def test_a_log_of_long_killed_lines_is_diagnosed_quickly() -> None:
    """100 lines of ``Killed`` + 8,185 tabs (the matcher reads 8 KiB of each): 0.3 s a
    line (30 s or more) before the fix, milliseconds after; the last real one still fires."""
    lines = [Line(i + 1, "Killed" + "\t" * 8185) for i in range(100)]
    lines.append(Line(101, "Killed"))
    start = time.perf_counter()
    found = list(diagnose_lines(iter(lines), load_rules(include_user=False)))
    took = time.perf_counter() - start
    assert took < 10, took
    assert any(f.rule == "step-killed" for f in found)


@pytest.mark.timeout(120)
def test_log_text_helpers_are_bounded_on_long_lines() -> None:
    """A traceback frame's "path" and a report's text come from logs too: 64 KiB of
    near misses took minutes (``run_`` + ``train`` repeated; ``KEY`` repeated)."""
    from wantui.core.redact import redact
    from wantui.core.traceback_anatomy import frame_owner

    for path in ("/run_" + "train" * 13107, "x/musubi" + "/" * 65536, "a" * 65536):
        start = time.perf_counter()
        frame_owner(path)
        assert time.perf_counter() - start < FULL_BOUND_S
    for text in ("KEY" * 21845, "HF_TOKEN" * 8192 + "=", "A_KEY " * 10922):
        start = time.perf_counter()
        redact(text)
        assert time.perf_counter() - start < FULL_BOUND_S
    assert redact("FOO=HF_TOKEN=abcd1234") == "FOO=HF_TOKEN=<redacted>"


def test_every_builtin_pattern_passes_the_backtracking_check() -> None:
    """The static and timed check that user rules' patterns once had to pass at load; the
    loader no longer runs it on the shipped rules at every start, this test does."""
    from wantui.core.rules.regexcheck import backtracking_problem

    problems = [
        (rule.id, p.source, why)
        for rule in load_rules(include_user=False).rules
        for p in rule.patterns()
        if (why := backtracking_problem(p.regex))
    ]
    assert not problems, problems
