"""Regex analysis for rules: catastrophic backtracking and required literals.

Two jobs, both on Python's own parse tree of the pattern (``re._parser``):

* :func:`backtracking_problem` rejects patterns that can backtrack exponentially or
  polynomially on a long log line: a static check for nested unbounded quantifiers with
  nothing required between them (``(a+)+``, ``(.*)*``, ``(\\w+\\s*)+``), then a timed run
  against adversarial strings of growing length built from the pattern's own characters.
* :func:`required_literals` finds literal strings one of which every match must contain,
  so the matcher can skip most lines with one C-level substring search.
"""

from __future__ import annotations

import re
import time

try:  # Python 3.11+
    import re._parser as _sre  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef]

_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT}
if hasattr(_sre, "POSSESSIVE_REPEAT"):
    _POSSESSIVE = {_sre.POSSESSIVE_REPEAT}
else:  # pragma: no cover
    _POSSESSIVE = set()
_UNBOUNDED = _sre.MAXREPEAT
_ZERO_WIDTH = {_sre.AT}
MATCH_CHARS = 8192  # the matcher searches at most this much of a line
MIN_LITERAL = 3  # shorter literals filter too little to be worth it


def _parse(pattern: str, flags: int = 0):  # noqa: ANN202 - sre's own tree type
    return _sre.parse(pattern, flags)


# -- catastrophic backtracking ----------------------------------------------------
def _items(sub) -> list:  # noqa: ANN001
    return list(sub.data if hasattr(sub, "data") else sub)


def _has_unbounded(items: list) -> bool:
    for op, av in items:
        if op in _REPEATS and av[1] == _UNBOUNDED:
            return True
        if op in _REPEATS or op in _POSSESSIVE:
            if _has_unbounded(_items(av[2])):
                return True
        elif op == _sre.SUBPATTERN:
            if _has_unbounded(_items(av[-1])):
                return True
        elif op == _sre.BRANCH:
            if any(_has_unbounded(_items(b)) for b in av[1]):
                return True
    return False


def _required_width(items: list) -> int:
    """Minimum width of the parts of a sequence that are not themselves unbounded
    repeats (nor groups made only of them)."""
    total = 0
    for op, av in items:
        if op in _REPEATS and av[1] == _UNBOUNDED:
            continue
        if op == _sre.SUBPATTERN:
            total += _required_width(_items(av[-1]))
            continue
        total += (
            _sre.SubPattern(None, [(op, av)]).getwidth()[0] if hasattr(_sre, "SubPattern") else 0
        )
    return total


def _nested_problem(items: list) -> bool:
    for op, av in items:
        if op in _REPEATS and av[1] > 1:
            body = _items(av[2])
            if _has_unbounded(body) and _required_width(body) == 0:
                return True
            if _nested_problem(body):
                return True
        elif op in _POSSESSIVE:
            continue  # possessive repeats never backtrack into their body
        elif op == _sre.SUBPATTERN:
            if _nested_problem(_items(av[-1])):
                return True
        elif op == _sre.BRANCH:
            if any(_nested_problem(_items(b)) for b in av[1]):
                return True
    return False


def _chars(pattern: str) -> list[str]:
    """Characters worth repeating in an attack string: the pattern's literal letters,
    plus the usual suspects (letters, digits, spaces, punctuation)."""
    seen: dict[str, None] = {}
    for ch in re.sub(r"\\.", "", pattern):
        if ch.isprintable() and ch not in "()[]{}*+?|^$.\\":
            seen.setdefault(ch, None)
    for ch in "a0 ,:_-/'\"=":
        seen.setdefault(ch, None)
    return list(seen)[:10]


def _attack_strings(pattern: str, n: int) -> list[str]:
    lits = [lit for lit in _all_literals(pattern) if lit][:2]
    out = [ch * n + "\x00" for ch in _chars(pattern)]
    for lit in lits:
        out.append((lit * (n // max(1, len(lit)) + 1))[:n] + "\x00")
        out.append(lit + " " * n + "\x00")
        out.append(lit + "a" * n + "\x00")
    out.append(("a " * n)[:n] + "\x00")
    cycle = "".join(_chars(pattern))
    out.append((cycle * (n // max(1, len(cycle)) + 1))[:n] + "\x00")
    out.append(("a1" * n)[:n] + "\x00")
    return out


_SIZES = (8, 12, 16, 20, 24, 28, 32, 64, 128, 256)
_FLOOR_S = 0.005  # below this, timings are noise
_CHECK_VERSION = 2  # bump when the check changes: cached "safe" verdicts then expire


def backtracking_problem(regex: re.Pattern[str], *, budget_s: float = 0.2) -> str | None:
    """Return why ``regex`` could backtrack catastrophically, or None when it is safe.

    Verdicts of safe patterns are cached (in memory and in the user's cache folder),
    since the timed part costs tens of milliseconds per pattern.
    """
    key = _cache_key(regex)
    if key in _safe_cache():
        return None
    problem = _check(regex, budget_s)
    if problem is None:
        _remember_safe(key)
    return problem


def _check(regex: re.Pattern[str], budget_s: float) -> str | None:
    """Static check for nested quantifiers, then adversarial strings of growing size.

    An exponential or high-degree polynomial pattern shows before it can hang the loader:
    it is rejected when one search takes more than ``budget_s``, or when (above a noise
    floor) its time grows faster than 1.5x quadratic in the input size. Growth, not
    absolute time, keeps the check stable on a loaded machine; quadratic patterns pass
    because the matcher only searches the first :data:`MATCH_CHARS` of a line.
    """
    try:
        tree = _parse(regex.pattern, regex.flags & ~re.UNICODE)
    except Exception:  # noqa: BLE001 - compiled already, so only an exotic construct
        tree = None
    if tree is not None and _nested_problem(_items(tree)):
        return "nested unbounded quantifiers with nothing required between them (e.g. (a+)+)"
    previous: list[float] | None = None
    prev_strings: list[str] = []
    prev_n = 0
    for n in _SIZES:
        times: list[float] = []
        strings = _attack_strings(regex.pattern, n)
        allowed = 1.5 * (n / prev_n) ** 2 if prev_n else 0.0
        for i, s in enumerate(strings):
            took = _time(regex, s)
            if took > budget_s and _time(regex, s) > budget_s:  # twice: not a stall
                return f"takes {took * 1000:.0f} ms on a {n}-character adversarial string (backtracking)"
            times.append(took)
            if previous is None or took <= _FLOOR_S or i >= len(previous):
                continue
            if took / max(previous[i], _FLOOR_S / 8) <= allowed:
                continue
            # Suspicious growth. A busy machine can stall any single search, so compare
            # the best of three runs at both sizes before calling it backtracking.
            took = min(_time(regex, s) for _ in range(3))
            base = max(min(_time(regex, prev_strings[i]) for _ in range(3)), _FLOOR_S / 8)
            if took > _FLOOR_S and took / base > allowed:
                return (
                    f"search time grows {took / base:.0f}x from {prev_n} to {n} characters "
                    "of an adversarial string (catastrophic backtracking)"
                )
        previous, prev_strings, prev_n = times, strings, n
    return None


def _time(regex: re.Pattern[str], s: str) -> float:
    start = time.perf_counter()
    regex.search(s)
    return time.perf_counter() - start


_SAFE: set[str] | None = None


def _cache_file():  # noqa: ANN202
    import os
    from pathlib import Path

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wantui" / "regex-safe-v1.txt"


def _cache_key(regex: re.Pattern[str]) -> str:
    import hashlib
    import sys

    raw = f"{_CHECK_VERSION}|{sys.version_info[:2]}|{regex.flags}|{regex.pattern}".encode(
        "utf-8", "surrogatepass"
    )
    return hashlib.sha256(raw).hexdigest()[:32]


def _safe_cache() -> set[str]:
    global _SAFE
    if _SAFE is None:
        try:
            _SAFE = set(_cache_file().read_text("ascii").split())
        except (OSError, ValueError):
            _SAFE = set()
    return _SAFE


def _remember_safe(key: str) -> None:
    """Best effort: a read-only home only costs the check's time next run."""
    import os

    cache = _safe_cache()
    cache.add(key)
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text("\n".join(sorted(cache)) + "\n", "ascii")
        os.replace(tmp, path)
    except OSError:
        pass


# -- required literals -------------------------------------------------------------
_MAX_OPTIONS = 16


def _exact(items: list, icase: bool) -> list[str] | None:
    """Every string the sequence can match, when that is a small finite set of literals
    (``nan|inf``, ``(?:a|b)c``); None otherwise."""
    opts = [""]
    for op, av in items:
        if op == _sre.LITERAL:
            opts = [o + chr(av) for o in opts]
        elif op in _ZERO_WIDTH:
            continue
        elif op == _sre.SUBPATTERN:
            if len(av) == 4 and av[1] & re.IGNORECASE and not icase:
                return None
            sub = _exact(_items(av[-1]), icase)
            if sub is None:
                return None
            opts = [o + x for o in opts for x in sub]
        elif op == _sre.BRANCH:
            alts: list[str] = []
            for alt in av[1]:
                sub = _exact(_items(alt), icase)
                if sub is None:
                    return None
                alts.extend(sub)
            opts = [o + x for o in opts for x in alts]
        else:
            return None
        if len(opts) > _MAX_OPTIONS:
            return None
    return opts


def _seq_options(items: list, icase: bool) -> list[str] | None:
    """Alternatives, one of which every match of the sequence contains; None if unknown."""
    best: list[str] | None = None

    def consider(opts: list[str] | None) -> None:
        nonlocal best
        if not opts or any(len(o) < MIN_LITERAL for o in opts):
            return
        if best is None or min(map(len, opts)) > min(map(len, best)):
            best = opts

    run: list[str] = [""]  # the literal strings the current contiguous stretch can be
    for op, av in items:
        if op == _sre.LITERAL:
            run = [r + chr(av) for r in run]
            continue
        if op in _ZERO_WIDTH:
            continue  # anchors consume nothing: the run stays contiguous
        if op in (_sre.SUBPATTERN, _sre.BRANCH):
            exact = _exact([(op, av)], icase)
            if exact is not None and len(run) * len(exact) <= _MAX_OPTIONS:
                run = [r + x for r in run for x in exact]  # "avr_loss=" + (nan|inf)
                continue
        consider(run)
        run = [""]
        if op == _sre.SUBPATTERN:
            add_flags = av[1] if len(av) == 4 else 0
            if add_flags & re.IGNORECASE and not icase:
                continue
            consider(_seq_options(_items(av[-1]), icase))
        elif op == _sre.BRANCH:
            opts: list[str] = []
            for alt in av[1]:
                sub = _seq_options(_items(alt), icase)
                if sub is None:
                    opts = []
                    break
                opts.extend(sub)
            consider(opts or None)
        elif op in _REPEATS or op in _POSSESSIVE:
            if av[0] >= 1:
                consider(_seq_options(_items(av[2]), icase))
    consider(run)
    return sorted(set(best)) if best else None


def required_literals(regex: re.Pattern[str]) -> list[str] | None:
    """Literal strings, one of which appears in every match (case-folded when the
    pattern ignores case); None when no useful literal exists."""
    try:
        tree = _parse(regex.pattern, regex.flags & ~re.UNICODE)
    except Exception:  # noqa: BLE001
        return None
    return _seq_options(_items(tree), bool(regex.flags & re.IGNORECASE))


def parse_facts(source: str, *, ignore_case: bool) -> tuple[list[str] | None, frozenset[str]]:
    """What the matcher needs to know of a pattern before it runs: its required literals
    (:func:`required_literals`) and its capture names, from one parse and no compile.
    Raises ``re.error`` when ``source`` is not a valid regex."""
    tree = _parse(source, re.IGNORECASE if ignore_case else 0)
    return _seq_options(_items(tree), ignore_case), frozenset(tree.state.groupdict)


def _all_literals(pattern: str) -> list[str]:
    try:
        lits = required_literals(re.compile(pattern))
    except re.error:
        return []
    return lits or []
