"""The run against the plan: a plan-mismatch finding when training is far slower than
planned (issue 13 item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wantui.core.catalog import CATALOG
from wantui.core.plan.live import SpeedWatch, planned_sec_per_step
from wantui.core.supervisor.events import StepOutput, StepStarted


def _bar(step: int, sec: float) -> str:
    return f"steps:  {step}%|##        | {step}/100 [01:40<15:00, {sec:.2f}s/it, avr_loss=0.1]"


def test_slow_training_raises_once() -> None:
    watch = SpeedWatch(5.0)
    assert watch.feed(_bar(1, 60.0)) is None  # warm-up
    assert watch.feed(_bar(5, 14.0)) is None  # within 3x
    f = watch.feed(_bar(6, 20.0))
    assert f is not None and f.catalog == "plan-mismatch" and f.catalog in CATALOG
    assert "4.0x slower" in f.title and f.steps == ("train",)
    assert watch.feed(_bar(7, 30.0)) is None  # once per run


def test_other_bars_and_fast_rates_are_ignored() -> None:
    watch = SpeedWatch(5.0)
    assert watch.feed("caching latents: 50%|#  | 5/10 [00:10<00:10, 30.00s/it]") is None
    assert watch.feed("steps:  10%|#  | 10/100 [00:10<01:30, 1.20it/s, avr_loss=0.1]") is None


def test_live_report_adds_the_finding(tmp_path: Path) -> None:
    from wantui.cli.run_cmd import LiveReport

    sink = LiveReport(echo=None, planned_sec=2.0)
    sink(StepStarted("train", ("python",), None, None, tmp_path / "train.log"))
    text = "\r".join(_bar(n, 9.0) for n in range(1, 6)) + "\n"
    sink(StepOutput("train", text.encode()))
    assert [f.catalog for f in sink.findings()] == ["plan-mismatch"]
    plain = LiveReport(echo=None)
    plain(StepStarted("train", ("python",), None, None, tmp_path / "train.log"))
    plain(StepOutput("train", text.encode()))
    assert plain.findings() == []


def test_planned_sec_per_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wantui.core.project import load_project

    (tmp_path / "ds.toml").write_text("[general]\nresolution = [960, 544]\n[[datasets]]\n"
                                      'image_directory = "imgs"\n')  # fmt: skip
    (tmp_path / "wantui.toml").write_text(
        '[project]\ndataset_config = "ds.toml"\n[steps.train]\n'
        'args = ["--task", "t2v-14B", "--gradient_checkpointing", "--fp8_base"]\n'
    )
    project = load_project(tmp_path)
    sec = planned_sec_per_step(project, "NVIDIA GeForce RTX 4090")
    assert sec is not None and sec > 0
    assert planned_sec_per_step(project, None) is None
    assert planned_sec_per_step(project, "Matrox G200") is None


def test_tui_feed_raises_plan_mismatch(tmp_path: Path) -> None:
    """The app's feed compares the steps bar with the plan like `wantui run` does."""
    from wantui.tui.feed import Feed

    for planned, expected in ((2.0, ["plan-mismatch"]), (None, [])):
        feed = Feed(planned_sec=planned)
        feed.emit(StepStarted("train", ("python",), None, None, tmp_path / "train.log"))
        text = "\r".join(_bar(n, 9.0) for n in range(1, 6)) + "\n"
        feed.emit(StepOutput("train", text.encode()))
        assert [f.catalog for f in feed.findings if f.catalog == "plan-mismatch"] == expected


def test_process_feed_passes_the_plan(tmp_path: Path) -> None:
    """The feed's child process gets the plan through its spec."""
    from wantui.tui.feed_process import ProcessFeed, play
    from wantui.tui.sources import ReplaySource, replay_plan

    log = tmp_path / "train.log"
    log.write_text("\r".join(_bar(n, 9.0) for n in range(1, 8)) + "\n", encoding="utf-8")
    for planned, expected in ((2.0, ["plan-mismatch"]), (None, [])):
        feed = ProcessFeed(("train",))
        feed.planned_sec = planned  # the pipeline screen sets it before following a live run
        play(ReplaySource(replay_plan(log), instant=True), feed)
        assert [f.catalog for f in feed.findings if f.catalog == "plan-mismatch"] == expected
