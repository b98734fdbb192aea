"""Logs of the real musubi-tuner recorded by scripts/sweep.py (fixtures/sweep/): each
``<case>.log`` is diagnosed at least as well as when it was recorded (``diagnosed`` in
``<case>.json``, the setting that produced the log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wantui.core.logtext import iter_file_lines
from wantui.core.matcher import diagnose_lines
from wantui.core.rules import load_rules

SWEEP = Path(__file__).resolve().parent.parent / "fixtures" / "sweep"
CASES = sorted(SWEEP.glob("*.json"))


@pytest.fixture(scope="module")
def rules():
    return load_rules(include_user=False)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_sweep_log_is_diagnosed_as_recorded(case: Path, rules) -> None:
    meta = json.loads(case.read_text(encoding="utf-8"))
    log = case.with_suffix(".log")
    assert log.is_file() and {"target", "value", "step", "outcome"} <= set(meta)
    found = diagnose_lines(
        iter_file_lines(log), rules, context={"step": meta["step"]}, exit_status=meta["rc"]
    )
    got = [f.rule for f in found]
    for rule in meta.get("diagnosed", []):
        assert rule in got, (case.stem, got)


def test_the_sweep_recorded_failures() -> None:
    outcomes = [json.loads(c.read_text(encoding="utf-8"))["outcome"] for c in CASES]
    assert len(outcomes) >= 10 and sum(o != "ok" for o in outcomes) >= 5
