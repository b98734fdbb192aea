"""One run, one diagnosis: ``wantui diagnose`` on a run's logs, ``wantui run``, ``wantui
attach`` and the app (Pilot) report the same findings, each with its source log.

A real fake-musubi run whose three steps all print "found 0 videos" (dataset-empty, a
``once`` rule) and whose training fails: before the shared session, diagnose said
dataset-empty once while run, attach and the app said it three times (one matcher per
step), and the app's copies carried no source file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_wantui
from tests.fakes.fakeproject import make_project
from tests.fakes_tui.helpers import live_app, wait_for
from wantui.core.diagnosis import Session
from wantui.core.finding import Finding
from wantui.core.rules import load_rules
from wantui.core.supervisor.diagnoser import FINDINGS_FILE, FindingsTail

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
EMPTY = {s: {"FAKE_VIDEOS": "0"} for s in ("latents", "te", "train")}


def _wantui(*args: str, cwd: Path) -> dict:
    proc = run_wantui(*args, cwd=cwd, env=cli_env(PYTHONPATH=str(ROOT)), timeout=90)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def _key_json(f: dict) -> tuple:
    first = f["evidence"][0] if f.get("evidence") else {}
    source = Path(first["source"]).name if first.get("source") else None
    return (f["rule"], source, first.get("line"), first.get("text"))


def _key(f: Finding) -> tuple:
    return _key_json(f.to_json())


def test_one_run_same_findings_everywhere(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {"train": "fail"}, env=EMPTY)
    root = project.root
    ran = _wantui("run", "--json", "--force", "--project", str(root), cwd=root)
    run_dir = Path(ran["run"]["run_dir"])
    attached = _wantui("attach", "--json", "--project", str(root), cwd=root)
    logs = [str(run_dir / f"{s}.log") for s in ("latents", "te", "train")]
    diagnosed = _wantui("diagnose", "--json", "--no-user-rules", *logs, cwd=root)

    want = sorted(_key_json(f) for f in diagnosed["findings"])
    rules = [k[0] for k in want]
    assert rules.count("dataset-empty") == 1, rules
    assert "cache-missing" in rules or "wrapper-failure-unknown" in rules, rules
    assert all(k[1] for k in want), want  # every finding names its log
    assert sorted(_key_json(f) for f in ran["findings"]) == want
    assert sorted(_key_json(f) for f in attached["findings"]) == want
    # the runner's findings.jsonl is where run and attach took them from
    tail = FindingsTail(run_dir)
    tail.poll()
    assert tail.ended and sorted(_key(f) for f in tail.findings) == want
    assert tail.steps[[f.rule for f in tail.findings].index("dataset-empty")] == "latents"
    # a run without the file (an older wantui's) is diagnosed by the front end: the same
    (run_dir / FINDINGS_FILE).unlink()
    again = _wantui("attach", "--json", "--project", str(root), cwd=root)
    assert sorted(_key_json(f) for f in again["findings"]) == want

    # the app follows the same run folder (a new run in a copy of the project)
    app_project = make_project(tmp_path / "q", {"train": "fail"}, env=EMPTY)
    app = live_app(app_project)

    async def watch() -> list[Finding]:
        async with app.run_test(size=(80, 24)) as pilot:
            assert await wait_for(pilot, lambda: app.feed.finished is not None)
            await pilot.pause(0.3)
            return list(app.feed.findings)

    shown = asyncio.run(watch())
    assert sorted(_key(f) for f in shown) == want


def test_session_dedups_a_once_rule_across_steps() -> None:
    rules = load_rules(include_user=False)
    s = Session(rules)
    for step in ("latents", "te", "train"):
        s.start(step, step=step, source=f"{step}.log")
        news = s.feed(step, b"INFO:musubi_tuner.dataset.datasources:found 0 videos\n")
        s.end(step, 0)
        if step == "latents":
            assert [x.finding.rule for x in news.findings] == ["dataset-empty"]
            assert news.findings[0].step == "latents"
            assert news.findings[0].source == "latents.log"
    s.finish()
    assert [f.rule for f in s.findings()].count("dataset-empty") == 1


def test_session_applies_each_steps_rules_only() -> None:
    """cache-missing (a train-only rule) does not fire on a caching step's log in the
    same session, and fires on the training step's."""
    rules = load_rules(include_user=False)
    assert next(r for r in rules.rules if r.id == "cache-missing").steps == ("train",)
    data = b"ValueError: No training items found in the dataset. Please cache first.\n"
    for step, fires in (("latents", False), ("train", True)):
        s = Session(rules)
        s.start(step, step=step, source=f"{step}.log")
        s.feed(step, data)
        s.end(step, 0)
        s.finish()
        assert ("cache-missing" in {f.rule for f in s.findings()}) is fires, step


def test_findings_panel_adds_new_findings_without_rebuilding(monkeypatch) -> None:  # noqa: ANN001
    from textual.app import App, ComposeResult
    from textual.widgets import OptionList

    from wantui.core.finding import Severity
    from wantui.tui.widgets.findings_panel import FindingsPanel

    cleared: list[int] = []
    real = OptionList.clear_options
    monkeypatch.setattr(OptionList, "clear_options", lambda self: cleared.append(1) or real(self))

    def finding(rule: str) -> Finding:
        return Finding(rule, rule, Severity.WARNING, rule, "")

    a, b, c = finding("a"), finding("b"), finding("c")

    class One(App):
        def compose(self) -> ComposeResult:
            yield FindingsPanel()

    async def go() -> tuple[int, int, int]:
        app = One()
        async with app.run_test() as pilot:
            panel = app.query_one(FindingsPanel)
            ol = app.query_one(OptionList)
            panel.show([a])
            panel.show([a, b])
            panel.show([a, b])
            await pilot.pause()
            first = (len(cleared), ol.option_count)
            panel.show([c, a, b])  # a root cause ranked first: the list is rebuilt
            await pilot.pause()
            return first[0], first[1], len(cleared)

    before, count, after = asyncio.run(go())
    assert (before, count, after) == (1, 2, 2)


def test_a_replay_plays_into_the_run_commands_sink(tmp_path: Path) -> None:
    """ReplaySource delivers to a callable sink (LiveReport: run/attach) as to a Feed."""
    from wantui.cli.run_cmd import LiveReport
    from wantui.tui.sources import ReplayPlan, ReplaySource, ReplayStep

    log = tmp_path / "latents.log"
    log.write_bytes(b"INFO:musubi_tuner.dataset.datasources:found 0 videos\n")
    plan = ReplayPlan(steps=[ReplayStep("latents", log, 0)], status="succeeded")
    report = LiveReport(echo=None)
    ReplaySource(plan, instant=True).run(report)
    assert report.finished is not None
    assert [f.rule for f in report.findings()] == ["dataset-empty"]
