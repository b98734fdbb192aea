"""Pilot tests of the terminal app, with real child processes (tests/fakes) and the
bundled demo. They assert on state: steps, findings shown, what a fix changed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.fakeproject import make_project
from tests.fakes_tui.helpers import (
    demo_app,
    live_pilot,
    replayed_demo,
    stop_and_confirm,
    sync,
    wait_for,
)
from wantui.tui.dialogs.fix_preview import FixDialog
from wantui.tui.feed import StepState
from wantui.tui.widgets.findings_panel import FindingsPanel
from wantui.tui.widgets.log_view import LogView
from wantui.tui.widgets.stats_panel import StatsPanel

pytestmark = pytest.mark.timeout(90)


def _states(app) -> dict[str, str]:  # noqa: ANN001
    return {k: v.state.value for k, v in app.feed.steps.items()}


@sync
async def test_demo_replay_findings_and_fix(tmp_path: Path) -> None:
    async with replayed_demo(tmp_path) as (app, folder, pilot):
        assert _states(app) == {"latents": "done", "te": "done", "train": "failed"}
        panel = app.screen.query_one(FindingsPanel)
        rules = [f.rule for f in panel.findings]
        assert rules[0] == "output-name-missing"  # the root cause first
        assert "target-frames-rounded" in rules
        # the failed step is shown without a key press
        assert app.screen.selected == "train"
        assert app.screen.query_one("#log-train", LogView).line_count > 50
        assert any("None-000002" in c for c in app.screen.checkpoints)
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, FixDialog)
        assert "--output_name" in app.screen.preview
        await pilot.press("a")
        assert await wait_for(
            pilot, lambda: "--output_name" in (folder / "wantui.toml").read_text()
        )
        text = (folder / "wantui.toml").read_text()
        assert "# wantui demo project" in text  # comments kept: a tomlkit edit, not a rewrite
        await pilot.press("u")  # undo puts the file back
        assert await wait_for(
            pilot, lambda: "--output_name" not in (folder / "wantui.toml").read_text()
        )


@sync
async def test_demo_search_and_step_keys(tmp_path: Path) -> None:
    async with replayed_demo(tmp_path) as (app, _, pilot):
        await pilot.press("1")
        assert app.screen.selected == "latents" and not app.screen.auto_follow
        await pilot.press("slash")
        await pilot.press(*"found 12")
        await pilot.press("enter")
        log = app.screen.query_one("#log-latents", LogView)
        assert log.match is not None and "found 12 videos" in log.lines()[log.match - 0]
        await pilot.press("z")
        assert app.screen.zoomed and not app.screen.query_one("#side").display


@sync
async def test_live_run_ok(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", env={"train": {"FAKE_STEPS": "5"}})
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
        assert _states(app) == {"latents": "done", "te": "done", "train": "done"}
        assert app.feed.loss_history["train"] == [1.99, 1.98, 1.97, 1.96, 1.95]
        assert "5/5" in str(app.screen.query_one("#progress-text").render())
        assert any(c.endswith("testlora.safetensors") for c in app.screen.checkpoints)
        assert not [f for f in app.feed.findings if f.severity.value == "error"]
        assert list((project.runs_path()).glob("*/train.log"))


@sync
async def test_live_failure_fix_and_rerun(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {"train": "fail"})
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
        assert _states(app)["train"] == "failed"
        panel = app.screen.query_one(FindingsPanel)
        assert panel.findings[0].rule == "cache-missing"
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, FixDialog) and app.screen.rerun_step == "latents"
        await pilot.press("r")  # apply, then run latents and the steps after it again
        assert await wait_for(
            pilot,
            lambda: (
                app.feed.steps["latents"].state is StepState.RUNNING
                or len(list(project.runs_path().glob("*/run.json"))) == 2
            ),
        )
        assert await wait_for(
            pilot,
            lambda: (
                app.feed.finished is not None and app.feed.steps["train"].state is StepState.FAILED
            ),
        )
        assert len(list(project.runs_path().glob("*/run.json"))) == 2


@sync
async def test_any_fix_of_a_finding_can_be_applied(tmp_path: Path) -> None:
    """Tab in the fix dialog shows the finding's next fix; applying it applies that one."""
    project = make_project(tmp_path / "p", {"train": "fail"})
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
        finding = app.screen.query_one(FindingsPanel).findings[0]
        labels = [fx.label for fx in finding.fixes if fx.auto]
        assert len(labels) >= 2, labels
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, FixDialog) and app.screen.choice == (1, len(labels))
        await pilot.press("tab")
        await pilot.pause(0.3)
        assert isinstance(app.screen, FixDialog) and app.screen.choice == (2, len(labels))
        assert app.screen.title_text != labels[0]
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, FixDialog)


@sync
async def test_live_nan_precursor_offers_stop(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "p", {"train": "nan"}, env={"train": {"FAKE_STEPS": "400", "FAKE_DELAY": "0.05"}}
    )
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(pilot, lambda: any(f.rule == "nan-loss" for f in app.feed.findings))
        assert app.feed.steps["train"].state is StepState.RUNNING  # seen before the step ends
        assert any("press s to stop" in n.message for n in app._notifications)
        await stop_and_confirm(app, pilot)
        assert app.feed.steps["train"].state in (StepState.STOPPED, StepState.FAILED)


@sync
async def test_child_that_cannot_start_is_reported(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", python=str(tmp_path / "no-such-python"))
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(
            pilot,
            lambda: (
                app.feed.finished is not None
                or any("cannot" in n.message.lower() for n in app._notifications)
            ),
        )
        msgs = " ".join(n.message for n in app._notifications)
        assert "no-such-python" in msgs or app.feed.steps["latents"].state is StepState.FAILED


@sync
async def test_binary_output_does_not_break_the_pane(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {"latents": "binary"}, steps=("latents",))
    async with live_pilot(project) as (app, pilot):
        assert await wait_for(pilot, lambda: app.feed.finished is not None)
        lines = app.screen.query_one("#log-latents", LogView).lines()
        assert any("after" in x for x in lines)
        assert _states(app)["latents"] == "done"


@sync
async def test_stats_panel_texts() -> None:
    from wantui.core.progress import parse_progress
    from wantui.tui.widgets.stats_panel import progress_text

    p = parse_progress("steps:  50%|█████     | 20/40 [00:12<00:12,  1.65it/s, avr_loss=1.6]")
    assert progress_text(p) == "20/40  1.65 it/s  ETA 00:12  loss 1.6"
    assert progress_text(None) == "no progress yet"
    assert StatsPanel  # the widget module imports cleanly


def test_app_start_does_not_import_torch(tmp_path: Path) -> None:
    """The TUI process must never pay for torch (about 3 s): check in a fresh interpreter."""
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from tests.fakes_tui.helpers import demo_app\n"
        "async def main():\n"
        f"    app, _ = demo_app(Path({str(tmp_path)!r}))\n"
        "    async with app.run_test(size=(80, 24)) as pilot:\n"
        "        await pilot.pause(0.5)\n"
        "asyncio.run(main())\n"
        "bad = [m for m in ('torch', 'accelerate', 'bitsandbytes', 'transformers') if m in sys.modules]\n"
        "print('BAD:' + ','.join(bad))\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=60
    )
    assert "BAD:" in out.stdout, out.stderr[-2000:]
    assert out.stdout.strip().endswith("BAD:"), out.stdout


@sync
async def test_checkpoints_appear_as_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    app, _ = demo_app(tmp_path, watch_dir=out)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.5)  # the watcher is up
        (out / "mylora-step00000010.safetensors").write_bytes(b"x")
        assert await wait_for(
            pilot, lambda: any("mylora-step00000010" in c for c in app.screen.checkpoints), 15
        )
        assert "mylora-step00000010" in str(app.screen.query_one("#checkpoints").render())
