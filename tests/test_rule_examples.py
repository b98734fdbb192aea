"""The built-in rule base against its own examples (what `wantui rules check` runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wantui.core.finding import Severity
from wantui.core.logtext import iter_file_lines
from wantui.core.matcher import diagnose_lines
from wantui.core.rules import RuleSet, load_rules
from wantui.core.rules.check import check_rules, rules_in_example

HEALTHY = Path(__file__).parent / "data" / "rules" / "logs" / "train_ok_h100.log"
BUILTIN = load_rules(include_user=False)
CASES = [
    (rule.id, path, kind)
    for rule in sorted(BUILTIN.rules, key=lambda r: r.id)
    for kind, paths in zip(("pos", "neg"), rule.examples())
    for path in paths
]


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return BUILTIN


@pytest.fixture(scope="module")
def report(rules: RuleSet):  # noqa: ANN201
    return check_rules(rules)


@pytest.mark.parametrize(("rule_id", "path", "kind"), CASES, ids=[p.name for _, p, _ in CASES])
def test_example(rules: RuleSet, rule_id: str, path: Path, kind: str) -> None:
    got = rules_in_example(path, rules)
    if kind == "pos":
        assert rule_id in got, f"{path.name}: no finding of {rule_id} (got {sorted(got)})"
    else:
        assert rule_id not in got, f"{path.name}: wrongly produces {rule_id}"


def test_every_rule_has_positive_and_negative_examples(report) -> None:  # noqa: ANN001
    assert report.missing_examples == [], "\n".join(report.missing_examples)


def test_no_stray_examples(report) -> None:  # noqa: ANN001
    assert report.stray_examples == []
    assert report.failures == []


def test_every_catalog_id_with_a_log_signature_has_a_rule(report) -> None:  # noqa: ANN001
    assert report.uncovered == []


def test_no_dangling_caused_by(rules: RuleSet) -> None:
    assert [str(p) for p in rules.problems] == []


def test_healthy_run_has_no_error_or_warning(rules: RuleSet) -> None:
    findings = diagnose_lines(iter_file_lines(HEALTHY), rules, exit_status=0)
    assert [(f.rule, f.lines) for f in findings if f.severity is not Severity.INFO] == []
