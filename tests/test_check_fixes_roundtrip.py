"""The checks' fixes, applied by the fix engine, repair the commented fixtures.

Each broken fixture is copied, every auto fix the checker proposes (first choice) is
planned and applied through ``wantui.core.fixes`` one at a time, and the result must
(1) have no error finding left except the manual ones, (2) keep the comments, and
(3) equal the golden ``<name>.fixed.toml`` (written by hand; WANTUI_BLESS=1 only
rewrites its layout, tests/bless.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bless import check_golden
from wantui.core.dataset import check_dataset_config
from wantui.core.finding import Severity
from wantui.core.fixes import Journal, apply_plan, plan_fix

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "configs"
CASES = ["many_problems", "windows_paths", "shared_cache"]


def auto_fixable(findings):
    return [
        f for f in findings if f.fixes and f.fixes[0].auto and f.fixes[0].action.startswith("toml_")
    ]


@pytest.mark.parametrize("name", CASES)
def test_fixes_repair_fixture(tmp_path, name):
    src = FIX / f"{name}.toml"
    work = tmp_path / f"{name}.toml"
    shutil.copyfile(src, work)
    journal = Journal(tmp_path)
    applied = 0
    for _ in range(30):
        todo = auto_fixable(check_dataset_config(work, tmp_path))
        if not todo:
            break
        finding = todo[0]
        for action in finding.fixes:
            if not action.auto or not action.action.startswith("toml_"):
                continue
            plan = plan_fix(action, None, dataset_config=work, finding=finding)
            assert plan.refused is None, (finding.rule, action, plan.refused)
            apply_plan(plan, journal)
            applied += 1
            break  # a finding's fixes are alternatives (rename | remove): the first one
    else:
        pytest.fail("fixes did not converge")
    assert applied > 0
    left = check_dataset_config(work, tmp_path)
    assert not [f for f in left if f.severity is Severity.ERROR and f.fixes and f.fixes[0].auto]
    result = work.read_text(encoding="utf-8")
    original_comments = [
        line.split("#", 1)[1].strip()
        for line in src.read_text().splitlines()
        if line.startswith("#")
    ]
    for c in original_comments:
        assert c in result
    golden = FIX / f"{name}.fixed.toml"
    check_golden(golden, work.read_bytes())
