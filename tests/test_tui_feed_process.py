"""The run model in its own process (ProcessFeed): the same lines, states and findings
as the in-process Feed, stopped by close(), rank folds merged across messages."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.fixture_logs import plain_log
from wantui.tui.feed import Batch, Feed, StepState, StepStatus
from wantui.tui.feed_process import ProcessFeed, play
from wantui.tui.sources import ReplaySource, replay_plan

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plain_log(ROOT / "fixtures/logs/multirank-8-oom.log", tmp_path_factory.mktemp("log"))


def _collect(feed: object) -> tuple[list[str], Batch]:
    batch = feed.drain()  # type: ignore[attr-defined]
    lines = batch.lines.get("train", [])
    return lines, batch


def test_same_result_as_the_thread_feed(log: Path) -> None:
    local = Feed(("train",), max_duty=1.0)
    ReplaySource(replay_plan(log), instant=True).run(local)
    remote = ProcessFeed(("train",))
    play(ReplaySource(replay_plan(log), instant=True), remote)
    a, _ = _collect(local)
    b, batch = _collect(remote)
    assert a == b and len(a) > 50
    assert [f.rule for f in local.findings] == [f.rule for f in remote.findings]
    assert "cuda-oom" in [f.rule for f in remote.findings]
    # no exit status in the log, but it shows an error: failed, and so is the run
    assert remote.steps["train"].state is StepState.FAILED and remote.steps["train"].ranks == 8
    assert batch.finished == "failed" and not batch.notices


def test_close_stops_a_slow_replay_quickly(log: Path) -> None:
    feed = ProcessFeed(("train",))
    src = ReplaySource(replay_plan(log), tick_s=0.5, lines_per_tick=1)  # ~2 min to play
    t = threading.Thread(target=play, args=(src, feed), daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while feed.steps["train"].state is not StepState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed.steps["train"].state is StepState.RUNNING
    start = time.monotonic()
    feed.close()
    t.join(10)
    assert not t.is_alive() and time.monotonic() - start < 5


def test_merge_applies_updates_to_pending_and_drawn_lines() -> None:
    feed = ProcessFeed(("train",), max_lines=100)
    st = {"train": StepStatus("train", StepState.RUNNING)}
    feed._merge(Batch(lines={"train": ["a", "b", "c"]}), st, True)
    drawn = feed.drain().lines["train"]
    feed._merge(Batch(lines={"train": ["d", "e"]}), st, True)
    # line 1 was drawn already (an update for the pane), line 3 is still pending here
    feed._merge(Batch(lines={"train": ["f"]}, updates={"train": {1: "B", 3: "D"}}), st, True)
    b = feed.drain()
    assert drawn == ["a", "b", "c"] and b.lines["train"] == ["D", "e", "f"]
    assert b.updates == {"train": {1: "B"}}


def test_merge_bounds_a_backlog_and_counts_the_drop() -> None:
    feed = ProcessFeed(("train",), max_lines=10)
    st = {"train": StepStatus("train", StepState.RUNNING)}
    for i in range(5):
        feed._merge(Batch(lines={"train": [f"{i}-{j}" for j in range(4)]}), st, True)
    b = feed.drain()
    assert len(b.lines["train"]) == 10 and b.dropped["train"] == 10
    assert b.lines["train"][-1] == "4-3"
