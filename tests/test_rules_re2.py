"""Every built-in rule pattern compiles under RE2 (google-re2): no lookaround, no
backreference, no repeat past RE2's bound. The matcher runs built-in patterns with
Python's ``re`` (tests/test_rules_linear.py keeps them linear there); keeping them
inside what RE2 accepts keeps every one of them runnable in linear time by construction.
"""

from __future__ import annotations

import pytest

from wantui.core.rules import load_rules
from wantui.core.rules.linear import compile_linear, re2_source

re2 = pytest.importorskip("re2", reason="google-re2 is not installed (no wheel here)")


def _builtin_patterns() -> list[tuple[str, str, bool]]:
    rules = load_rules(include_user=False)
    return [
        (rule.id, p.source, p.ignore_case)
        for rule in rules.rules
        if rule.builtin
        for p in rule.patterns()
    ]


def test_every_builtin_pattern_compiles_under_re2() -> None:
    patterns = _builtin_patterns()
    assert len(patterns) > 150  # the whole rule base, not an empty load
    refused = []
    for rule_id, source, ignore_case in patterns:
        regex, why = compile_linear(source, ignore_case=ignore_case)
        if regex is None:
            refused.append(f"{rule_id}: {source!r}: {why}")
    assert refused == [], "\n".join(refused)


def test_python_unicode_escapes_are_written_the_re2_way() -> None:
    assert re2_source(r"[\u200b-\u200f\ufeff]") == r"[\x{200b}-\x{200f}\x{feff}]"
    assert re2_source(r"\U0001F600") == r"\x{0001F600}"
    assert re2_source(r"\\u200b") == r"\\u200b"  # an escaped backslash, then "u200b"
    assert re2_source(r"\\\u200b") == r"\\\x{200b}"
    regex, why = compile_linear(r"x[\u200b-\u200f]y", ignore_case=False)
    assert why is None and regex.search("x\u200dy") and not regex.search("x\u2010y")
