"""The matcher: streaming, windows, dedupe across ranks, causes, the unexplained failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from wantui.core.finding import Severity
from wantui.core.logtext import Line, Normalizer, iter_file_lines, normalize_text
from wantui.core.matcher import WRAPPER_ID, Matcher, diagnose_lines
from wantui.core.rules import RuleSet, load_rules
from wantui.core.rules.examples import read_marked_log

DATA = Path(__file__).parent / "data" / "rules"


def example(name: str) -> bytes:
    """A test rule's example log without its fixture markers."""
    return read_marked_log(DATA / "examples" / name).data


HEALTHY = DATA / "logs" / "train_ok_h100.log"

WRAPPER_TAIL = (
    "Traceback (most recent call last):\n"
    '  File "/venv/bin/accelerate", line 8, in <module>\n'
    '  File "/venv/lib/accelerate/commands/launch.py", line 1, in simple_launcher\n'
    "subprocess.CalledProcessError: Command '['/venv/bin/python', 'wan_train_network.py']' "
    "returned non-zero exit status 1.\n"
)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(include_user=False, builtin_dir=DATA)


def run(text: str, rules: RuleSet, **kw: object) -> list:
    return diagnose_lines(normalize_text(text.encode()), rules, **kw)  # type: ignore[arg-type]


def test_simple_rule_fires_on_its_line_at_once(rules: RuleSet) -> None:
    m = Matcher(rules, {"dataset_config": "data/ds.toml"})
    assert m.feed(Line(1, "INFO:x:glob videos in /d")) == []
    new = m.feed(Line(2, "INFO:musubi_tuner.dataset.datasources:found 0 videos"))
    assert [f.rule for f in new] == ["t-found-zero"]
    f = new[0]
    assert f.title == "A dataset found 0 videos"
    assert "data/ds.toml" in f.message and f.lines == [2] and f.captures == {"kind": "videos"}
    assert f.severity is Severity.WARNING and f.catalog == "dataset-empty"


def test_template_fallback_without_context(rules: RuleSet) -> None:
    f = run("found 0 images\n", rules)[0]
    assert "the dataset config" in f.message


def test_followed_by_within_window(rules: RuleSet) -> None:
    pos = example("t-t5-layout.pos.log").decode()
    fs = run(pos, rules)
    f = next(f for f in fs if f.rule == "t-t5-layout")
    assert f.captures == {"module": "T5Encoder", "first_key": "token_embedding.weight"}
    assert f.lines == [3, 4]
    assert f.fixes[0].action == "download" and f.fixes[0].params["flag"] == "--t5"
    neg = example("t-t5-layout.neg.log").decode()
    assert "t-t5-layout" not in {f.rule for f in run(neg, rules)}


def test_followed_by_fires_when_met_streaming(rules: RuleSet) -> None:
    m = Matcher(rules)
    assert m.feed(Line(1, "RuntimeError: Error(s) in loading state_dict for T5Encoder:")) == []
    new = m.feed(Line(2, '\tMissing key(s) in state_dict: "a.weight".'))
    assert [f.rule for f in new] == ["t-t5-layout"]


def test_all_and_not(rules: RuleSet) -> None:
    pos = example("t-caption.pos.log").decode()
    f = next(f for f in run(pos, rules) if f.rule == "t-caption")
    assert f.captures["path"] == "/data/v/clip1.txt" and f.lines == [2, 3]
    neg = example("t-caption.neg.log").decode()
    assert "t-caption" not in {f.rule for f in run(neg, rules)}
    # the `all` line too far away (window 10): no finding
    far = (
        "  File datasources.py\n"
        + "x\n" * 20
        + "FileNotFoundError: [Errno 2] No such file or directory: '/a.txt'\n"
    )
    assert "t-caption" not in {f.rule for f in run(far, rules)}


def test_not_veto_after_trigger_within_window(rules: RuleSet) -> None:
    text = (
        "datasources\nFileNotFoundError: [Errno 2] No such file or directory: '/a.txt'\n"
        "x\nsample_prompts\n"
    )
    assert "t-caption" not in {f.rule for f in run(text, rules)}


def test_once_dedupes_by_captures(rules: RuleSet) -> None:
    fs = run("found 0 videos\nfound 0 videos\nfound 0 images\n", rules)
    assert sorted(f.captures["kind"] for f in fs) == ["images", "videos"]


def test_ranks_make_one_finding_with_ranks(rules: RuleSet) -> None:
    text = "".join(
        f"[rank{r}]: ValueError: No training items found in the dataset.\n" for r in range(8)
    )
    fs = [f for f in run(text, rules) if f.rule == "t-no-items"]
    assert len(fs) == 1
    assert fs[0].evidence[0].ranks == tuple(range(8))


def test_ignore_case_pattern(rules: RuleSet) -> None:
    assert "t-no-items" in {f.rule for f in run("NO TRAINING ITEMS FOUND IN THE DATASET\n", rules)}


def test_caused_by_ranks_root_first(rules: RuleSet) -> None:
    text = (
        "found 0 videos\n" + "INFO\n" * 50 + "ValueError: No training items found in the dataset.\n"
    )
    fs = run(text, rules, context={"dataset_config": "ds.toml"})
    assert [f.rule for f in fs] == ["t-found-zero", "t-no-items"]
    assert fs[1].consequence_of == "t-found-zero" and fs[0].consequence_of is None


def test_derive_and_fix_rendering(rules: RuleSet) -> None:
    f = next(
        f
        for f in run(
            "no training items found in the dataset 2\n",
            rules,
            context={"dataset_config": "d.toml"},
        )
    )
    assert "table datasets2" in f.message
    toml_fix = next(x for x in f.fixes if x.action == "toml_set_key")
    assert toml_fix.params == {
        "file": "dataset_config",
        "table": "datasets2",
        "key": "cache_directory",
        "value": '"d.toml"',
    }
    assert toml_fix.auto


def test_fix_with_missing_value_is_manual(rules: RuleSet) -> None:
    f = next(f for f in run("no training items found in the dataset\n", rules))
    toml_fix = next(x for x in f.fixes if x.action == "toml_set_key")
    assert not toml_fix.auto and toml_fix.params["value"] == '"<dataset_config>"'


def test_called_process_error_is_never_a_finding_but_gives_exit_status(rules: RuleSet) -> None:
    m = Matcher(rules)
    for ln in normalize_text(
        (
            "found 0 videos\nValueError: No training items found in the dataset.\n" + WRAPPER_TAIL
        ).encode()
    ):
        m.feed(ln)
    m.finish()
    assert m.exit_status == 1
    assert WRAPPER_ID not in {f.rule for f in m.findings()}
    assert all("CalledProcessError" not in e.text for f in m.findings() for e in f.evidence)


def test_unknown_failure_reported_with_traceback_above_wrapper(rules: RuleSet) -> None:
    text = (
        "INFO:x:starting\n"
        "Traceback (most recent call last):\n"
        '  File "/m/wan_train_network.py", line 10, in <module>\n'
        "    main()\n"
        '  File "/m/trainer_base.py", line 99, in train\n'
        "ZeroDivisionError: division by zero\n" + WRAPPER_TAIL
    )
    fs = run(text, rules)
    assert [f.rule for f in fs] == [WRAPPER_ID]
    f = fs[0]
    assert f.catalog == WRAPPER_ID and f.severity is Severity.ERROR
    assert f.captures == {"exit_status": "1", "exception": "ZeroDivisionError: division by zero"}
    assert f.lines == [2, 3, 5, 6]
    assert "exit status 1" in f.message and "ZeroDivisionError" in f.message


def test_unknown_failure_from_exit_status_only(rules: RuleSet) -> None:
    fs = run("INFO:x:hello\n", rules, exit_status=3)
    assert [f.rule for f in fs] == [WRAPPER_ID] and fs[0].captures["exit_status"] == "3"
    assert run("INFO:x:hello\n", rules, exit_status=0) == []


def test_argparse_error_is_a_failure(rules: RuleSet) -> None:
    text = "usage: wan_train_network.py [-h]\nwan_train_network.py: error: unrecognized arguments: --foo\n"
    fs = run(text, rules)
    assert [f.rule for f in fs] == [WRAPPER_ID]
    assert fs[0].lines == [2]


def test_no_wrapper_when_an_error_rule_explains(rules: RuleSet) -> None:
    text = example("t-t5-layout.pos.log").decode() + WRAPPER_TAIL
    assert [f.rule for f in run(text, rules)] == ["t-t5-layout"]


def test_step_context_filters_rules(rules: RuleSet) -> None:
    assert run("found 0 videos\n", rules, context={"step": "train"}) == []
    assert run("found 0 videos\n", rules, context={"step": "latents"})


def test_sources_keep_windows_apart(rules: RuleSet) -> None:
    m = Matcher(rules)
    m.set_source("a.log")
    m.feed(Line(1, "RuntimeError: Error(s) in loading state_dict for T5Encoder:"))
    m.set_source("b.log")
    m.feed(Line(2, '\tMissing key(s) in state_dict: "a.weight".'))
    m.finish()
    assert "t-t5-layout" not in {f.rule for f in m.findings()}


def test_healthy_log_has_no_findings_builtin_and_test_rules(rules: RuleSet) -> None:
    lines = list(iter_file_lines(HEALTHY))
    assert diagnose_lines(lines, rules, exit_status=0) == []
    builtin = load_rules(include_user=False)
    bad = [
        f for f in diagnose_lines(lines, builtin, exit_status=0) if f.severity is not Severity.INFO
    ]
    assert bad == [], [(f.rule, f.lines) for f in bad]


def test_prefilter_bytes_equivalent_to_streaming(rules: RuleSet) -> None:
    text = (
        HEALTHY.read_bytes()
        + b"\x1b[31mfound 0 videos\x1b[0m\n"
        + "学習開始\n".encode("cp932")
        + example("t-caption.pos.log")
        + WRAPPER_TAIL.encode()
    )
    full = diagnose_lines(normalize_text(text), rules)
    m = Matcher(rules)
    n = Normalizer(keep=m.prefilter_bytes())
    fast = diagnose_lines(n.feed(text) + n.close(), rules)
    assert [f.to_json() for f in full] == [f.to_json() for f in fast]
    assert {f.rule for f in full} == {"t-found-zero", "t-caption"}


def test_builtin_examples_smoke() -> None:
    builtin = load_rules(include_user=False)
    m = Matcher(builtin)
    assert m.prefilter_bytes() is not None, (
        "a built-in rule has no literal: every line would be searched"
    )


def test_exception_names_without_error_suffix(rules: RuleSet) -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/m/config_utils.py", line 184, in sanitize\n'
        "voluptuous.error.MultipleInvalid: something new @ data['x']\n" + WRAPPER_TAIL
    )
    (f,) = run(text, rules)
    assert f.captures["exception"] == "voluptuous.error.MultipleInvalid: something new @ data['x']"


def test_finish_twice_adds_nothing(rules: RuleSet) -> None:
    m = Matcher(rules)
    m.feed(Line(1, "INFO:x"))
    assert [f.rule for f in m.finish(2)] == [WRAPPER_ID]
    assert m.finish(2) == [] and len(m.findings()) == 1


def test_findings_per_rule_are_bounded(tmp_path: Path) -> None:
    from wantui.core.matcher import MAX_FINDINGS_PER_RULE
    from wantui.core.rules import load_rule_file

    text = (DATA / "t-found-zero.yaml").read_text().replace("t-found-zero", "many")
    text = text.replace("  any:", "  once: false\n  any:")
    (tmp_path / "many.yaml").write_text(text)
    rule = load_rule_file(tmp_path / "many.yaml")
    lines = [Line(i, "found 0 videos") for i in range(1, 500)]
    fs = diagnose_lines(lines, [rule])
    assert len(fs) == MAX_FINDINGS_PER_RULE
