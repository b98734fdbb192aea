"""The frozen set: real failure logs collected after the rule base, scored cause-first.

``fixtures/frozen/<name>.log`` is an excerpt of a log from a public thread that no other
fixture uses; its ``#=VERDICT=#`` line (fixtures/README.md) is ``{"catalog": [id] or [],
"note": why, "source": url}``, written from reading the log before any rule for it
existed. It has no MATCH markers: the set is scored, not asserted line by line. The rules
are not tuned to these logs (fixtures/frozen/README.md); this test measures how well
rules written from other material generalise.

Scoring, per log, on the first error finding (the root cause wantui names first):
``correct`` when it is the verdict (for an empty ``[]`` verdict: no error finding other than
``wrapper-failure-unknown``), ``wrong`` when it names another catalog id, ``none`` when
there is no error finding or only ``wrapper-failure-unknown``. Run with ``-s`` to see
the score; the test fails when the score falls below the floor recorded after the last
rule change (``FLOOR``), or when a wrong cause is claimed more often than ``MAX_WRONG``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wantui.core.catalog import is_known
from wantui.core.finding import Finding, Severity
from wantui.core.matcher import WRAPPER_ID
from wantui.core.rules import RuleSet, load_rules
from wantui.core.rules.check import example_findings
from wantui.core.rules.examples import MarkedLog, read_marked_log

FROZEN = Path(__file__).resolve().parent.parent / "fixtures" / "frozen"
LOGS = sorted(FROZEN.glob("*.log"))
# logs collected after the rules were written (fixtures/frozen/README.md, "held-out")
HELD_OUT = sorted((FROZEN / "held-out").glob("*.log"))
HELD_OUT_FLOOR = 8  # scored once, after the rules (fixtures/frozen/README.md)
FLOOR = 24  # correct verdicts at least: the AFTER score in fixtures/frozen/README.md
MAX_WRONG = 0


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    rs = load_rules(include_user=False)
    assert not rs.problems
    return rs


def _marked(log: Path) -> MarkedLog:
    return read_marked_log(log)


def expected_cause(log: MarkedLog) -> str | None:
    catalog = (log.verdict or {}).get("catalog") or []
    return catalog[0] if catalog else None


def first_cause(findings: list[Finding]) -> str | None:
    """The catalog id of the first error finding, ``None`` if there is none."""
    for f in findings:
        if f.severity is Severity.ERROR:
            return f.catalog
    return None


# A true answer less specific than the verdict counts as correct: for a verdict that
# guessed the OOM killer from a bare SIGKILL, "killed by SIGKILL; who sent it is not in the
# log" is what the log supports (issue 9 item 17 forbids the guess without evidence).
GENERAL = {"host-oom": frozenset({"process-killed"})}


def score_one(expected: str | None, got: str | None) -> str:
    if got is None or got == WRAPPER_ID:
        return "correct" if expected is None else "none"
    if expected is not None and got in GENERAL.get(expected, ()):
        return "correct"
    return "correct" if got == expected else "wrong"


def score(
    rules: RuleSet, logs: list[Path] | None = None
) -> dict[str, list[tuple[str, str | None, str | None]]]:
    out: dict[str, list[tuple[str, str | None, str | None]]] = {
        "correct": [],
        "wrong": [],
        "none": [],
    }
    for log in LOGS if logs is None else logs:
        marked = _marked(log)
        expected = expected_cause(marked)
        findings = example_findings(marked, rules)
        got = first_cause(findings)
        out[score_one(expected, got)].append((log.stem, expected, got))
    return out


def test_frozen_set_is_well_formed() -> None:
    assert 25 <= len(LOGS) <= 40
    for log in [*LOGS, *HELD_OUT]:
        marked = _marked(log)
        verdict = marked.verdict
        assert verdict is not None, f"{log.name}: no #=VERDICT=# line"
        assert verdict["source"].startswith("https://github.com/"), log.name
        assert set(verdict) == {"catalog", "note", "source"}, log.name
        assert verdict["note"], log.name
        assert len(verdict["catalog"]) <= 1 and all(is_known(c) for c in verdict["catalog"])
        assert not marked.marked, f"{log.name}: the frozen set is scored, not marked"
    assert not list(FROZEN.glob("**/*.json"))


def test_frozen_score(rules: RuleSet) -> None:
    result = score(rules)
    n = len(LOGS)
    print(
        f"\nfrozen set: {len(result['correct'])}/{n} correct, "
        f"{len(result['wrong'])} wrong, {len(result['none'])} none"
    )
    for kind in ("wrong", "none"):
        for stem, expected, got in result[kind]:
            print(f"  {kind:5} {stem}: expected {expected}, got {got}")
    assert len(result["correct"]) >= FLOOR
    assert len(result["wrong"]) <= MAX_WRONG


def test_held_out_score(rules: RuleSet) -> None:
    result = score(rules, HELD_OUT)
    print(
        f"\nheld-out set: {len(result['correct'])}/{len(HELD_OUT)} correct, "
        f"{len(result['wrong'])} wrong, {len(result['none'])} none"
    )
    for kind in ("wrong", "none"):
        for stem, expected, got in result[kind]:
            print(f"  {kind:5} {stem}: expected {expected}, got {got}")
    assert len(result["correct"]) >= HELD_OUT_FLOOR
