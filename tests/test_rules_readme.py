"""README.md's finding-id table lists exactly the built-in rules and check declarations, and every catalog id with a log
signature has a rule (thefuck's test for its README, applied to wantui's rule base)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from wantui.core.catalog import CATALOG
from wantui.core.rules import load_rules

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "rules_table.py"
START, END = "<!-- rules:start -->", "<!-- rules:end -->"

try:  # the engine's own list; the fallback keeps this test meaningful on its own
    from wantui.core.rules.check import NO_LOG_SIGNATURE
except ImportError:  # pragma: no cover
    NO_LOG_SIGNATURE = frozenset(
        {"wan22-task-not-set", "tensorboard-missing", "wrapper-failure-unknown"}
    )

ROW = re.compile(r"^\|\s*`(?P<id>[a-z0-9][a-z0-9-]*)`\s*\|")


def _table_ids(readme: str) -> list[str]:
    start, end = readme.find(START), readme.find(END)
    assert start != -1 and end > start, (
        "README.md has no rule table block (run scripts/rules_table.py)"
    )
    return [m["id"] for line in readme[start:end].splitlines() if (m := ROW.match(line))]


def _rule_files() -> dict[str, dict]:
    return {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in (REPO / "rules").glob("*.yaml")
    }


def _all_ids() -> set[str]:
    """Every finding id: the rule files and the checks' declarations."""
    return set(_rule_files()) | {p.stem for p in (REPO / "rules" / "checks").glob("*.yaml")}


def test_readme_table_lists_every_rule_once() -> None:
    ids = _table_ids((REPO / "README.md").read_text(encoding="utf-8"))
    rules = _all_ids()
    assert len(ids) == len(set(ids)), "a rule is listed twice"
    missing = sorted(rules - set(ids))
    removed = sorted(set(ids) - rules)
    assert not missing, f"README.md's rule table misses {missing}: run scripts/rules_table.py"
    assert not removed, f"README.md lists removed rules {removed}: run scripts/rules_table.py"


def test_readme_table_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def test_every_catalog_id_with_a_log_signature_has_a_rule() -> None:
    covered = {d["catalog"] for d in _rule_files().values()}
    uncovered = sorted(set(CATALOG) - NO_LOG_SIGNATURE - covered)
    assert not uncovered, f"catalog ids with a log signature but no rule: {uncovered}"
    # ids without a log signature must stay that way: a rule for them would be a mistake
    assert not (covered & NO_LOG_SIGNATURE)


def test_rules_are_well_formed_for_the_table() -> None:
    rs = load_rules(include_user=False)
    assert not rs.problems
    for r in rs.rules:
        assert r.path is not None and r.path.stem == r.id
        assert r.title and "\n" not in r.title.strip()


def _run(readme: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--readme", str(readme), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_script_appends_then_updates_in_place(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nintro\n", encoding="utf-8")
    assert _run(readme, "--check").returncode == 1
    assert _run(readme).returncode == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\nintro\n") and START in text and END in text
    assert set(_table_ids(text)) == _all_ids()
    assert _run(readme, "--check").returncode == 0
    # a stale row is replaced, the text around the block is kept byte for byte
    stale = text.replace(END, "| `removed-rule` | `x` | error | any | gone |\n" + END) + "tail\n"
    readme.write_text(stale, encoding="utf-8")
    assert _run(readme, "--check").returncode == 1
    assert _run(readme).returncode == 0
    again = readme.read_text(encoding="utf-8")
    assert "removed-rule" not in again and again.endswith("tail\n")


@pytest.mark.parametrize(
    "content",
    [f"# x\n{START}\nno end\n", f"# x\n{END}\n{START}\n", None],
    ids=["no-end-marker", "reversed-markers", "missing-file"],
)
def test_script_refuses_bad_readme(tmp_path: Path, content: str | None) -> None:
    readme = tmp_path / "README.md"
    if content is not None:
        readme.write_text(content, encoding="utf-8")
    proc = _run(readme)
    assert proc.returncode == 2
    assert str(readme) in proc.stderr and "Traceback" not in proc.stderr
    if content is not None:
        assert readme.read_text(encoding="utf-8") == content  # untouched
