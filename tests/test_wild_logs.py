"""Real users' logs from public GitHub issues, diagnosed against the verdict beside each.

``fixtures/wild/<name>.log`` is an excerpt of a log someone pasted into an issue (trimmed
to what matters, user names replaced); ``<name>.expected.json`` holds
``{"catalog": [ranked catalog ids], "source": "<issue url>", "note": "..."}`` and
optionally ``"exit_status"`` when the paste says how the step ended, and
``"engine_gap"`` when the right verdict needs an engine change (the case is then an
expected failure, strict, so it turns red once the engine handles it). The ranked catalog
ids of the findings must equal ``catalog`` exactly (precursor warnings included), so a
rule change that adds, drops or reorders a finding on a real log fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wantui.core.finding import Finding, Severity, exit_code_for
from wantui.core.logtext import iter_file_lines
from wantui.core.matcher import diagnose_lines
from wantui.core.rules import RuleSet, load_rules

WILD = Path(__file__).resolve().parent.parent / "fixtures" / "wild"
LOGS = sorted(WILD.glob("*.log"))


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    rs = load_rules(include_user=False)
    assert not rs.problems
    return rs


def _expected(log: Path) -> dict:
    return json.loads(log.with_suffix(".expected.json").read_text(encoding="utf-8"))


def _diagnose(log: Path, rules: RuleSet, exit_status: int | None) -> list[Finding]:
    return diagnose_lines(
        iter_file_lines(log), rules, context={"source": log.name}, exit_status=exit_status
    )


def _catalog(findings: list[Finding]) -> list[str]:
    out: list[str] = []
    for f in findings:
        if f.catalog not in out:
            out.append(f.catalog)
    return out


def test_enough_wild_logs_with_sources() -> None:
    assert len(LOGS) >= 20
    for log in LOGS:
        exp = _expected(log)
        assert exp["source"].startswith("https://github.com/"), log.name
        assert exp.get("note"), log.name
        assert isinstance(exp["catalog"], list), log.name


def test_every_expected_file_has_its_log() -> None:
    for exp in WILD.glob("*.expected.json"):
        assert exp.with_name(exp.name.replace(".expected.json", ".log")).is_file(), exp.name


def _cases() -> list:
    out = []
    for log in LOGS:
        gap = _expected(log).get("engine_gap")
        marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
        out.append(pytest.param(log, id=log.stem, marks=marks))
    return out


@pytest.mark.parametrize("log", _cases())
def test_wild_verdict(log: Path, rules: RuleSet) -> None:
    exp = _expected(log)
    findings = _diagnose(log, rules, exp.get("exit_status"))
    assert _catalog(findings) == exp["catalog"], f"{log.name} ({exp['source']})"
    # no error finding outside the expected ids, and exit 1 exactly when one is expected
    errors = {f.catalog for f in findings if f.severity is Severity.ERROR}
    assert errors <= set(exp["catalog"]), log.name
    assert exit_code_for(findings) == (1 if errors else 0)


def test_healthy_wild_logs_have_no_error_or_warning(rules: RuleSet) -> None:
    healthy = [p for p in LOGS if _expected(p)["catalog"] == []]
    assert healthy, "at least one healthy real log"
    for log in healthy:
        findings = _diagnose(log, rules, 0)
        assert [f.rule for f in findings if f.severity is not Severity.INFO] == [], log.name
