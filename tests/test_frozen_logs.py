"""The frozen set: real failure logs collected after the rule base, scored cause-first.

``fixtures/frozen/<name>.log`` is an excerpt of a log from a public thread that no other
fixture uses; ``<name>.json`` is ``{"source": url, "verdict": {"catalog": id | null,
"note": why}}``, written from reading the log before any rule for it existed. The rules
are not tuned to these logs (fixtures/frozen/README.md); this test measures how well
rules written from other material generalise.

Scoring, per log, on the first error finding (the root cause wantui names first):
``correct`` when it is the verdict (for a ``null`` verdict: no error finding other than
``wrapper-failure-unknown``), ``wrong`` when it names another catalog id, ``none`` when
there is no error finding or only ``wrapper-failure-unknown``. Run with ``-s`` to see
the score; the test fails when the score falls below the floor recorded after the last
rule change (``FLOOR``), or when a wrong cause is claimed more often than ``MAX_WRONG``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wantui.core.catalog import is_known
from wantui.core.finding import Finding, Severity
from wantui.core.logtext import iter_file_lines
from wantui.core.matcher import WRAPPER_ID, diagnose_lines
from wantui.core.rules import RuleSet, load_rules

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


def _sidecar(log: Path) -> dict:
    return json.loads(log.with_suffix(".json").read_text(encoding="utf-8"))


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
        expected = _sidecar(log)["verdict"]["catalog"]
        findings = diagnose_lines(iter_file_lines(log), rules, context={"source": log.name})
        got = first_cause(findings)
        out[score_one(expected, got)].append((log.stem, expected, got))
    return out


def test_frozen_set_is_well_formed() -> None:
    assert 25 <= len(LOGS) <= 40
    for log in [*LOGS, *HELD_OUT]:
        side = _sidecar(log)
        assert side["source"].startswith("https://github.com/"), log.name
        verdict = side["verdict"]
        assert set(verdict) == {"catalog", "note"}, log.name
        assert verdict["note"], log.name
        assert verdict["catalog"] is None or is_known(verdict["catalog"]), log.name
    for side in FROZEN.glob("*.json"):
        assert side.with_suffix(".log").is_file(), side.name


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
