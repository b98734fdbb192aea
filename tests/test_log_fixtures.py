"""Every example log against the verdict marked inside it (fixtures/README.md).

``fixtures/logs/*.log`` (whole runs in the shapes users paste, captured real runs, users'
pastes from public issues) and ``rules/examples/*.log`` (the built-in rules' examples)
carry ``#=`` marker lines: the harness removes them, diagnoses the log the product would
see, and checks

- the verdict: the ranked catalog ids of the findings equal ``catalog`` (cause first),
  the ranked rule ids equal ``rules`` and wantui's exit code equals ``exit`` where given
  (``exit_status``, when known, is passed to the diagnosis as the step's own status);
- every ``#=MATCH=#``: a finding of that rule whose evidence holds the next log line,
  with the captures listed; every ``#=NOMATCH=#``: no finding of that rule;
- the markers' layout (``WANTUI_BLESS=1`` rewrites it, and only it: tests/bless.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bless import check_marker_layout
from wantui.core.catalog import is_known
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding, Severity, exit_code_for
from wantui.core.logtext import normalize_text
from wantui.core.matcher import Matcher
from wantui.core.rules import RuleSet, load_rules
from wantui.core.rules.check import (
    check_rules,
    example_findings,
    expectation_failures,
)
from wantui.core.rules.examples import (
    VERDICT_KEYS,
    MarkedLog,
    canonical,
    parse_marked_log,
    read_marked_log,
)

REPO = Path(__file__).resolve().parent.parent
LOGS = REPO / "fixtures" / "logs"
CORPUS = sorted(LOGS.glob("*.log"))
RULE_EXAMPLES = sorted((REPO / "rules" / "examples").glob("*.log"))
TEST_RULES = REPO / "tests" / "data" / "rules"
FROZEN = sorted((REPO / "fixtures" / "frozen").glob("**/*.log"))
HEALTHY = TEST_RULES / "logs" / "train_ok_h100.log"
BUILTIN = load_rules(include_user=False)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    assert not BUILTIN.problems
    return BUILTIN


def _log(name: str) -> MarkedLog:
    return read_marked_log(LOGS / f"{name}.log")


def _catalog(findings: list[Finding]) -> list[str]:
    out: list[str] = []
    for f in findings:
        if f.catalog not in out:
            out.append(f.catalog)
    return out


def _kind(verdict: dict) -> str:
    """real: captured from the real scripts; wild: pasted in a public thread; own."""
    return "real" if "command" in verdict else "wild" if "source" in verdict else "own"


# -- the format ------------------------------------------------------------------------
ALL_MARKED = [*CORPUS, *RULE_EXAMPLES, *FROZEN, *sorted((TEST_RULES / "examples").glob("*.log"))]


@pytest.mark.parametrize("path", ALL_MARKED, ids=[p.name for p in ALL_MARKED])
def test_marker_layout(path: Path) -> None:
    check_marker_layout(path)


def test_corpus_is_well_formed() -> None:
    assert len(CORPUS) >= 100 and len(RULE_EXAMPLES) >= 200
    kinds = {"own": 0, "real": 0, "wild": 0}
    for path in [*CORPUS, *RULE_EXAMPLES]:
        ex = read_marked_log(path)
        v = ex.verdict
        assert v is not None, f"{path.name}: no #=VERDICT=# line"
        assert len(v["note"]) > 40, f"{path.name}: say why the verdict is right"
        assert all(is_known(c) for c in v["catalog"]), (path.name, v["catalog"])
        assert b"/work/" not in ex.data, f"{path.name}: a local path left in the log"
        if path.parent == LOGS:
            kinds[_kind(v)] += 1
            assert "exit" in v, path.name
        if _kind(v) == "wild":
            assert v["source"].startswith("https://github.com/"), path.name
        if _kind(v) == "real":
            assert {"rules", "exit", "exit_status", "musubi", "captured", "how"} <= set(v)
            assert v["rules"] or not v["catalog"], f"{path.name}: no rule ids for the verdict"
    assert kinds["own"] >= 10 and kinds["real"] >= 20 and kinds["wild"] >= 20, kinds
    assert (LOGS / "healthy-h100.log").is_file()
    # no verdict lives beside a log any more
    assert not list((REPO / "fixtures").glob("**/*.expected.json"))
    assert not list((REPO / "fixtures" / "frozen").glob("**/*.json"))


# -- the verdicts ----------------------------------------------------------------------
def _cases() -> list:
    out = []
    for path in [*CORPUS, *RULE_EXAMPLES]:
        gap = (read_marked_log(path).verdict or {}).get("engine_gap")
        marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
        out.append(pytest.param(path, id=f"{path.parent.name}/{path.name}", marks=marks))
    return out


@pytest.mark.parametrize("path", _cases())
def test_verdict(path: Path, rules: RuleSet) -> None:
    ex = read_marked_log(path)
    v = ex.verdict or {}
    findings = example_findings(ex, rules)
    assert _catalog(findings) == v["catalog"], path.name
    if "rules" in v:
        assert [f.rule for f in findings] == v["rules"], path.name
    if "exit" in v:
        assert exit_code_for(findings) == v["exit"], path.name
    errors = {f.catalog for f in findings if f.severity is Severity.ERROR}
    assert exit_code_for(findings) == (1 if errors else 0), path.name
    if "exit_status" in v and _kind(v) == "real":  # exit 1 exactly when the process failed
        assert exit_code_for(findings) == (1 if v["exit_status"] != 0 else 0), path.name
    assert expectation_failures(ex, findings) == []


def test_every_rule_has_positive_and_negative_examples(rules: RuleSet) -> None:
    report = check_rules(rules)
    assert report.missing_examples == [], "\n".join(report.missing_examples)
    assert report.stray_examples == [] and report.failures == []
    assert report.examples_run == len(RULE_EXAMPLES)
    # every catalog id with a log signature has a rule
    assert report.uncovered == []


def test_no_dangling_caused_by(rules: RuleSet) -> None:
    assert [str(p) for p in rules.problems] == []


def test_healthy_run_has_no_error_or_warning(rules: RuleSet) -> None:
    ex = parse_marked_log(HEALTHY.read_bytes(), HEALTHY)
    findings = example_findings(ex, rules)
    assert [(f.rule, f.lines) for f in findings if f.severity is not Severity.INFO] == []


def test_healthy_logs_have_no_error_or_warning(rules: RuleSet) -> None:
    """Logs whose verdict is healthy (the real H100 run, a run full of harmless alarming
    lines, pasted healthy runs) stay so when the step is known to have succeeded."""
    named = {"healthy-h100.log", "healthy-noisy-wan22.log"}  # the latter has info findings
    healthy = [p for p in CORPUS if p.name in named or read_marked_log(p).verdict["catalog"] == []]
    assert len(healthy) > len(named)
    for path in healthy:
        ex = read_marked_log(path)
        ex = MarkedLog(ex.path, ex.data, {**ex.verdict, "exit_status": 0})
        findings = example_findings(ex, rules)
        assert [f.rule for f in findings if f.severity is not Severity.INFO] == [], path.name


def test_multirank_failure_is_one_finding_with_all_ranks(rules: RuleSet) -> None:
    findings = example_findings(_log("multirank-8-oom"), rules)
    oom = [f for f in findings if f.catalog == "cuda-oom"]
    assert len(oom) == 1
    # each rank names its own GPU ("GPU 3 has a total capacity ..."), so the lines differ
    # in that number; the finding still comes from a ranked line
    assert oom[0].evidence[0].ranks


def test_precursor_fires_before_the_failure(rules: RuleSet) -> None:
    """found 0 videos is the root; No training items is its consequence, ranked after."""
    findings = example_findings(_log("found-0-videos-chain"), rules)
    ids = [f.rule for f in findings]
    assert ids.index("dataset-empty") < ids.index("cache-missing")
    cm = next(f for f in findings if f.rule == "cache-missing")
    assert cm.consequence_of == "dataset-empty"


def test_cli_agrees_with_the_library(tmp_path: Path) -> None:
    """The real `wantui diagnose --json` gives the same verdict and exit code (a sample),
    on the log without its markers."""
    for name in ("wan22-missing-task", "nan-loss-exit0", "windows-sjis-toml-backslash"):
        ex = _log(name)
        log = tmp_path / f"{name}.log"
        log.write_bytes(ex.data)
        proc = subprocess.run(
            [sys.executable, "-m", "wantui", "diagnose", "--json", "--no-user-rules", str(log)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == ex.verdict["exit"], proc.stderr
        data = json.loads(proc.stdout)
        assert [f["rule"] for f in data["findings"]] == ex.verdict["rules"]


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
    m = Matcher(rules, {"step": "train"})
    first_nan = None
    fired_at = None
    for line in normalize_text(_log("nan-loss-exit0").data):
        if first_nan is None and "avr_loss=nan" in line.text:
            first_nan = line.number
        for f in m.feed(line):
            if f.rule == "nan-loss" and fired_at is None:
                fired_at = line.number
    assert first_nan is not None and fired_at == first_nan
    m.finish(0)
    assert exit_code_for(m.findings()) == 0  # a warning: the run "succeeded"


# -- the parser ------------------------------------------------------------------------
LOG = b"INFO: start\nINFO:x:found 0 videos\n"


def test_markers_are_removed_and_lines_counted_in_the_stripped_log() -> None:
    data = (
        b'#=VERDICT=# {"catalog": ["dataset-empty"], "note": "n"}\n#=NOMATCH=# cuda-oom\n'
        b'INFO: start\n#=MATCH=# dataset-empty {"kind": "videos"}\nINFO:x:found 0 videos\n'
    )
    ex = parse_marked_log(data, "x.log")
    assert ex.data == LOG
    assert ex.verdict == {"catalog": ["dataset-empty"], "note": "n"}
    (m,) = ex.matches
    assert (m.rule, m.line, m.captures, m.marker_line) == (
        "dataset-empty",
        2,
        {"kind": "videos"},
        4,
    )
    assert ex.nomatches == ("cuda-oom",) and ex.positive == {"dataset-empty"}


def test_log_bytes_in_any_encoding_are_kept() -> None:
    body = "学習開始\r\n".encode("cp932") + b"\xff\xfe\r\nno newline at the end"
    ex = parse_marked_log(b"#=MATCH=# some-rule\n" + body, "x.log")
    assert ex.data == body and ex.matches[0].line == 1


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (b"#=VERDICT=# {not json}\n", 1, "not valid JSON"),
        (b'#=VERDICT=# {"catalog": []}\n', 1, "'note' is required"),
        (b'#=VERDICT=# {"catalog": "x", "note": "n"}\n', 1, "'catalog' must be a list"),
        (b'#=VERDICT=# {"catalog": [], "note": "n", "verdict": 1}\n', 1, "unknown key 'verdict'"),
        (b'log\n#=VERDICT=# {"catalog": [], "note": "n"}\n', 2, "before the log's first line"),
        (b"log\n#=MATCH=# some-rule\n", 2, "no log line follows it"),
        (b"#=MATCH=# Some_Rule\nlog\n", 1, "expected a rule id"),
        (b'#=MATCH=# r {"k": 1}\nlog\n', 1, "capture values must be strings"),
        (b"#=NOMATCH=# r extra\nlog\n", 1, "nothing may follow"),
        (b"#=MATCH=# r\nlog\n#=NOMATCH=# r\n", 3, "both"),
        (b"log\n#=EXPECT=# r\n", 2, "unknown fixture marker '#=EXPECT=#'"),
        (b"#=MATCH=# r \xff\nlog\n", 1, "must be UTF-8"),
    ],
)
def test_malformed_marker_names_file_and_line(text: bytes, line: int, says: str) -> None:
    with pytest.raises(WantuiError) as err:
        parse_marked_log(text, "ex.log")
    assert err.value.path == "ex.log" and err.value.line == line
    assert says in err.value.message


def test_canonical_layout_changes_markers_only() -> None:
    data = (
        b'#=VERDICT=#   {"note": "why", "exit": 1, "catalog": ["\xc3\xa9"]}\r\n'
        b'a\r\n#=MATCH=#   r   {"b": "2","a": "1"}\r\nb\r\n'
    )
    out = canonical(data, "x.log")
    assert out == (
        b'#=VERDICT=# {"catalog": ["\\u00e9"], "exit": 1, "note": "why"}\n'
        b'a\r\n#=MATCH=# r {"a": "1", "b": "2"}\nb\r\n'
    )
    before, after = parse_marked_log(data, "x.log"), parse_marked_log(out, "x.log")
    assert (before.data, before.verdict, before.matches) == (
        after.data,
        after.verdict,
        tuple(m for m in after.matches),
    )
    assert canonical(out, "x.log") == out
    assert list(VERDICT_KEYS[:4]) == ["catalog", "rules", "exit", "exit_status"]


def test_a_read_is_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(b"x\n" * 100)
    with pytest.raises(WantuiError, match="at most 50 bytes"):
        read_marked_log(big, limit=50)


# -- the checks can fail ---------------------------------------------------------------
def test_wrong_expectations_are_reported(rules: RuleSet) -> None:
    ok = read_marked_log(LOGS / "found-0-videos-chain.log")
    findings = example_findings(ok, rules)
    m = next(e for e in ok.matches if e.rule == "dataset-empty")

    def fails(**change: object) -> list[str]:
        e = type(m)(**{**m.__dict__, **change})
        ex = MarkedLog(ok.path, ok.data, ok.verdict, (e,))
        return expectation_failures(ex, findings)

    assert fails() == []
    assert "does not fire on line" in fails(line=m.line + 1)[0]
    assert "captures kind='videos', not 'images'" in fails(captures={"kind": "images"})[0]
    assert "does not produce a finding of rule cuda-oom" in fails(rule="cuda-oom")[0]
    neg = MarkedLog(ok.path, ok.data, ok.verdict, (), ("dataset-empty",), {"dataset-empty": 1})
    assert (
        "wrongly produces a finding of rule dataset-empty" in expectation_failures(neg, findings)[0]
    )


def test_rules_check_reports_a_broken_user_example(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES, folder, ignore=shutil.ignore_patterns("logs"))
    rs = load_rules(include_user=False, builtin_dir=folder)
    assert check_rules(rs, coverage=False).ok
    pos = folder / "examples" / "t-found-zero.pos.log"
    pos.write_bytes(pos.read_bytes().replace(b'"videos"', b'"images"'))
    (folder / "examples" / "stray.log").write_bytes(b"no markers\n")
    (folder / "examples" / "bad.log").write_bytes(b"#=MATCH=# t-no-items\n")
    report = check_rules(rs, coverage=False)
    assert any("t-found-zero.pos.log:2: rule t-found-zero captures" in x for x in report.failures)
    assert any("bad.log:1" in x and "no log line follows" in x for x in report.failures)
    assert any("stray.log: no #=MATCH=# or #=NOMATCH=# marker" in x for x in report.stray_examples)
    (folder / "examples" / "t-caption.neg.log").unlink()
    assert "t-caption: no negative example" in check_rules(rs, coverage=False).missing_examples


# -- the re-bless switch ---------------------------------------------------------------
def test_bless_rewrites_layout_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.bless as bless

    monkeypatch.setattr(bless, "BLESS", True)
    log = tmp_path / "x.log"
    log.write_bytes(b'#=VERDICT=#  {"note": "n", "catalog": []}\nline\n')
    bless.check_marker_layout(log)
    assert log.read_bytes() == b'#=VERDICT=# {"catalog": [], "note": "n"}\nline\n'
    log.write_bytes(b"#=VERDICT=# {broken\nline\n")  # never repaired
    with pytest.raises(WantuiError):
        bless.check_marker_layout(log)
    assert log.read_bytes() == b"#=VERDICT=# {broken\nline\n"

    golden = tmp_path / "g.fixed.toml"
    with pytest.raises(pytest.fail.Exception, match="never creates one"):
        bless.check_golden(golden, b"a = 1\n")
    assert not golden.exists()
    golden.write_bytes(b"a = 2\n")  # a real difference: still a failure, file untouched
    with pytest.raises(AssertionError):
        bless.check_golden(golden, b"a = 1\n")
    assert golden.read_bytes() == b"a = 2\n"
    golden.write_bytes(b"a = 1\r\n")  # layout only: rewritten
    bless.check_golden(golden, b"a = 1\n")
    assert golden.read_bytes() == b"a = 1\n"
    monkeypatch.setattr(bless, "BLESS", False)
    golden.write_bytes(b"a = 1\r\n")
    with pytest.raises(AssertionError):
        bless.check_golden(golden, b"a = 1\n")
