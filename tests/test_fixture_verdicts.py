"""Whole-run logs diagnosed end to end against the verdict stored beside each.

``fixtures/logs/<name>.log`` are realistic user-shaped logs (Windows code pages, CRLF,
Japanese, eight ranks, truncated pastes, old musubi-tuner layouts) with
``<name>.expected.json``: ``{"rules": [ranked rule ids], "catalog": [ranked catalog ids],
"exit": wantui's exit code, "note": why that verdict is right, from the log's lines}`` and
optionally ``"exit_status"`` (the step's own status, when the log's owner knew it).

``fixtures/real/<name>.log`` are captured from the real musubi-tuner by another area; their
expected files carry the *process* exit code in ``"exit"``, the capturer's catalog verdict
and the rule ids that give it (each rule's own ``catalog`` must be in that verdict). The
expected catalog ids must all be found, in order, with no other error finding (precursor
warnings and info findings may come on top); the rule ids likewise; and wantui's exit code
must be 1 exactly when the process failed.

``WANTUI_BLESS=1 python -m pytest tests/test_fixture_verdicts.py`` only reformats the
expected files (same content, the one JSON layout); it never writes a verdict: a verdict is
written by hand from the log, and a test that disagrees fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wantui.core.finding import Finding, Severity, exit_code_for
from wantui.core.logtext import iter_file_lines
from wantui.core.matcher import diagnose_lines
from wantui.core.rules import RuleSet, load_rules

REPO = Path(__file__).resolve().parent.parent
LOGS = REPO / "fixtures" / "logs"
REAL = REPO / "fixtures" / "real"
BLESS = os.environ.get("WANTUI_BLESS") == "1"

OWN = sorted(LOGS.glob("*.log"))
REAL_LOGS = sorted(REAL.glob("*.log")) if REAL.is_dir() else []


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    rs = load_rules(include_user=False)
    assert not rs.problems
    return rs


def _expected_path(log: Path) -> Path:
    return log.with_name(log.name[: -len(".log")] + ".expected.json")


def _diagnose(log: Path, rules: RuleSet, exit_status: int | None) -> list[Finding]:
    return diagnose_lines(
        iter_file_lines(log), rules, context={"source": log.name}, exit_status=exit_status
    )


def _verdict(findings: list[Finding]) -> dict[str, object]:
    catalog: list[str] = []
    for f in findings:
        if f.catalog not in catalog:
            catalog.append(f.catalog)
    return {
        "rules": [f.rule for f in findings],
        "catalog": catalog,
        "exit": exit_code_for(findings),
    }


def _reformat(path: Path, data: dict[str, object]) -> None:
    """WANTUI_BLESS: write ``data`` back in the one layout; the content is unchanged."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if BLESS and path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def test_enough_fixtures() -> None:
    assert len(OWN) >= 10
    assert (LOGS / "healthy-h100.log").is_file()
    for log in OWN:
        assert _expected_path(log).is_file(), f"{log.name} has no expected verdict"
        note = json.loads(_expected_path(log).read_text(encoding="utf-8")).get("note")
        assert isinstance(note, str) and len(note) > 40, f"{log.name}: say why the verdict is right"


@pytest.mark.parametrize("log", OWN, ids=[p.stem for p in OWN])
def test_own_fixture(log: Path, rules: RuleSet) -> None:
    exp_path = _expected_path(log)
    expected = json.loads(exp_path.read_text(encoding="utf-8"))
    _reformat(exp_path, expected)
    findings = _diagnose(log, rules, expected.get("exit_status"))
    got = _verdict(findings)
    assert got == {k: expected.get(k) for k in got}, log.name


@pytest.mark.parametrize("name", ["healthy-h100", "healthy-noisy-wan22"])
def test_healthy_logs_have_no_error_or_warning(rules: RuleSet, name: str) -> None:
    """The real H100 run, and a run full of harmless alarming lines (xformers and
    bitsandbytes warnings, FutureWarnings, caption mismatch, no valid noisy inputs)."""
    findings = _diagnose(LOGS / f"{name}.log", rules, 0)
    assert [f.rule for f in findings if f.severity is not Severity.INFO] == []


def test_multirank_failure_is_one_finding_with_all_ranks(rules: RuleSet) -> None:
    findings = _diagnose(LOGS / "multirank-8-oom.log", rules, None)
    oom = [f for f in findings if f.catalog == "cuda-oom"]
    assert len(oom) == 1
    # each rank names its own GPU ("GPU 3 has a total capacity ..."), so the lines differ
    # in that number; the finding still comes from a ranked line
    assert oom[0].evidence[0].ranks


def test_precursor_fires_before_the_failure(rules: RuleSet) -> None:
    """found 0 videos is the root; No training items is its consequence, ranked after."""
    findings = _diagnose(LOGS / "found-0-videos-chain.log", rules, None)
    ids = [f.rule for f in findings]
    assert ids.index("dataset-empty") < ids.index("cache-missing")
    cm = next(f for f in findings if f.rule == "cache-missing")
    assert cm.consequence_of == "dataset-empty"


def test_cli_agrees_with_the_library() -> None:
    """The real `wantui diagnose --json` gives the same verdict and exit code (a sample)."""
    for name in ("wan22-missing-task", "nan-loss-exit0", "windows-sjis-toml-backslash"):
        log = LOGS / f"{name}.log"
        expected = json.loads(_expected_path(log).read_text(encoding="utf-8"))
        proc = subprocess.run(
            [sys.executable, "-m", "wantui", "diagnose", "--json", "--no-user-rules", str(log)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == expected["exit"], proc.stderr
        data = json.loads(proc.stdout)
        assert [f["rule"] for f in data["findings"]] == expected["rules"]


@pytest.mark.skipif(not REAL_LOGS, reason="no captured real logs in fixtures/real")
@pytest.mark.parametrize("log", REAL_LOGS, ids=[p.stem for p in REAL_LOGS])
def test_real_fixture(log: Path, rules: RuleSet) -> None:
    exp_path = _expected_path(log)
    if not exp_path.is_file():
        pytest.fail(f"{log.name} has no {exp_path.name}")
    expected = json.loads(exp_path.read_text(encoding="utf-8"))
    status = expected.get("exit")
    findings = _diagnose(log, rules, status if isinstance(status, int) else None)
    got = _verdict(findings)
    _reformat(exp_path, expected)
    # The capturer's verdict lists the catalog ids they expect; precursors (warnings) and
    # info findings may come on top, but no error the capturer did not expect.
    want = list(expected.get("catalog") or [])
    assert _subsequence(want, got["catalog"]), f"{log.name}: {got['catalog']} lacks {want}"
    errors = [f.catalog for f in findings if f.severity is Severity.ERROR]
    assert set(errors) <= set(want), f"{log.name}: unexpected error findings {errors}"
    # the rule ids that give that verdict: listed whenever there is one, each of them a
    # rule of one of the expected catalog ids, found in order
    named = list(expected.get("rules") or [])
    assert named or not want, f"{log.name}: no rule ids for the verdict {want}"
    by_id = {r.id: r for r in rules.rules}
    assert all(r in by_id and by_id[r].catalog in want for r in named), (log.name, named)
    assert _subsequence(named, got["rules"]), f"{log.name}: {got['rules']} lacks {named}"
    if isinstance(status, int):
        assert got["exit"] == (1 if status != 0 else 0), f"{log.name}: process exit {status}"


def _subsequence(want: list, got: list) -> bool:
    """Whether ``want`` appears in ``got`` in the same order (other items between)."""
    it = iter(got)
    return all(any(x == y for y in it) for x in want)


PRECURSORS = {
    "dataset-empty",
    "target-frames-rounded",
    "te-cache-missing",
    "nan-loss",
    "output-name-none-checkpoint",
}


def test_precursor_rules_fire_on_their_line(rules: RuleSet) -> None:
    """Warnings that predict a later failure need no window: they fire at once, live."""
    by_id = {r.id: r for r in rules.rules}
    for rid in PRECURSORS:
        r = by_id[rid]
        assert r.severity is Severity.WARNING, rid
        assert not (r.all or r.followed_by or r.none), f"{rid} would wait for its window"


def test_nan_loss_is_reported_live_at_the_first_nan_step(rules: RuleSet) -> None:
    from wantui.core.matcher import Matcher

    m = Matcher(rules, {"step": "train"})
    first_nan = None
    fired_at = None
    for line in iter_file_lines(LOGS / "nan-loss-exit0.log"):
        if first_nan is None and "avr_loss=nan" in line.text:
            first_nan = line.number
        for f in m.feed(line):
            if f.rule == "nan-loss" and fired_at is None:
                fired_at = line.number
    assert first_nan is not None and fired_at == first_nan
    m.finish(0)
    assert exit_code_for(m.findings()) == 0  # a warning: the run "succeeded"
