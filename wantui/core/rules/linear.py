"""User rule patterns run on RE2 (google-re2): linear time by construction.

Python's ``re`` backtracks: a pattern like ``ZqZ([5-9]|[5-9])*!`` takes exponential time
on a short line and cannot be interrupted (Ctrl-C waits for it). The timed check in
:mod:`regexcheck` cannot prove a pattern safe, so rules that wantui does not ship (the
user's folders, ``--rules``, a trusted project's ``.wantui/rules``) are compiled with
RE2 and matched with it. RE2 refuses what it cannot run in linear time (backreferences,
lookaround, possessive and atomic groups); such a rule is reported and skipped.
Built-in rules are matched with ``re`` (Unicode ``\\w``, the capture groups) and are
tested to be linear there (``tests/test_rules_linear.py``); every one of them also
compiles here (``tests/test_rules_re2.py``): none uses lookaround or backreferences.
"""

from __future__ import annotations

import re
from typing import Any

# Python's \uXXXX and \UXXXXXXXX escapes (not after an escaped backslash), which RE2
# spells \x{...}
_PY_UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))")


def re2_source(source: str) -> str:
    """``source`` (a Python regex) as RE2 reads it: ``\\u200b`` becomes ``\\x{200b}``."""
    if "\\u" not in source and "\\U" not in source:
        return source
    return _PY_UNICODE_ESCAPE.sub(
        lambda m: f"{m.group(1)}\\x{{{m.group(2) or m.group(3)}}}", source
    )


MISSING = "google-re2 is not installed (pip install google-re2); rules from your folders need it"


def compile_linear(source: str, *, ignore_case: bool) -> tuple[Any | None, str | None]:
    """(the RE2 regex, None) or (None, why it cannot be run in linear time).

    The regex has the part of ``re.Pattern``'s interface the matcher uses: ``search``
    (a match with ``groupdict``), ``groupindex`` and ``pattern``. RE2's ``\\d``, ``\\w``,
    ``\\s`` and ``\\b`` are ASCII-only.
    """
    try:
        import re2  # type: ignore[import-not-found,import-untyped]
    except ImportError:
        return None, MISSING
    opts = re2.Options()
    opts.log_errors = False  # RE2 would print its own line on stderr
    opts.case_sensitive = not ignore_case
    try:
        return re2.compile(re2_source(source), opts), None
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return None, (
            f"RE2, the linear-time engine user rules run on, cannot compile it ({detail});"
            " backreferences, lookarounds and possessive or atomic groups are not supported"
        )
