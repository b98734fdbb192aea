"""The TUI's run model (Feed) without an app: states, batching, bounds, live progress
and precursors, bad bytes."""

from __future__ import annotations

from pathlib import Path

from wantui.core.supervisor import (
    RunFinished,
    RunNotice,
    StepExited,
    StepOutput,
    StepSkipped,
    StepStarted,
)
from wantui.tui.feed import Feed, StepState


def _start(feed: Feed, step: str = "train") -> None:
    feed.emit(StepStarted(step, (), None, None, Path("x.log")))


def test_states_skipped_stopped_failed() -> None:
    feed = Feed(max_duty=1.0)
    feed.emit(StepSkipped("latents", "caches exist"))
    _start(feed, "te")
    feed.emit(StepExited("te", None, 15))
    _start(feed)
    feed.emit(StepExited("train", 1))
    feed.emit(RunFinished("failed"))
    s = feed.steps
    assert (s["latents"].state, s["latents"].note) == (StepState.SKIPPED, "caches exist")
    assert s["te"].state is StepState.STOPPED
    assert s["train"].state is StepState.FAILED and s["train"].returncode == 1
    batch = feed.drain()
    assert batch.states_changed and batch.finished == "failed"
    assert feed.drain().empty()


def test_flood_batch_is_bounded_and_counts_what_it_drops() -> None:
    feed = Feed(("train",), max_lines=1000, max_duty=1.0)
    _start(feed)
    chunk = b"".join(b"line %d\n" % i for i in range(10_000))
    for _ in range(10):
        feed.emit(StepOutput("train", chunk))
    batch = feed.drain()
    assert len(batch.lines["train"]) == 1000
    assert batch.dropped["train"] == 99_000
    assert batch.lines["train"][-1] == "line 9999"
    assert feed.steps["train"].lines == 100_000


def test_ansi_kept_and_carriage_returns_collapsed() -> None:
    feed = Feed(("train",), max_duty=1.0)
    _start(feed)
    feed.emit(StepOutput("train", b"\x1b[31mred\x1b[0m\nfirst\rsecond\rthird\n"))
    lines = feed.drain().lines["train"]
    assert lines == ["\x1b[31mred\x1b[0m", "third"]


def test_progress_and_nan_precursor_before_the_newline() -> None:
    """tqdm redraws one line with \\r for a whole epoch: progress and avr_loss=nan must
    count while the line is still open, not at the epoch's end."""
    feed = Feed(("train",), max_duty=1.0)
    _start(feed)
    bar = "steps: {p:3d}%|     | {i}/10 [00:0{i}<00:01,  1.50it/s, avr_loss={loss}]"
    feed.emit(StepOutput("train", ("\r" + bar.format(p=10, i=1, loss="0.12")).encode()))
    b1 = feed.drain()
    assert b1.progress["train"].step == 1 and b1.partial["train"].startswith("steps:")
    assert not b1.lines
    feed.emit(StepOutput("train", ("\r" + bar.format(p=20, i=2, loss="nan")).encode()))
    b2 = feed.drain()
    assert b2.progress["train"].step == 2
    if feed.diagnosis_available:
        assert any(f.rule == "nan-loss" for f in b2.findings)
    assert feed.steps["train"].state is StepState.RUNNING


def test_binary_and_endless_lines_stay_bounded() -> None:
    feed = Feed(("train",), max_duty=1.0)
    _start(feed)
    feed.emit(
        StepOutput("train", b"\x00\xff\xfe \xc3\x28 \x80\n" + bytes(range(256)) + b"\nafter\n")
    )
    for _ in range(50):
        feed.emit(StepOutput("train", b"x" * 100_000))  # 5 MB, never a newline
    feed.emit(StepExited("train", 0))
    lines = feed.drain().lines["train"]
    assert "after" in lines
    assert max(len(x) for x in lines) <= 4096


def test_notices_and_losses() -> None:
    feed = Feed(("train",), max_duty=1.0)
    feed.emit(RunNotice("log file deleted", step="train"))
    _start(feed)
    data = "".join(
        f"\rsteps: {i * 10:3d}%|  | {i}/10 [00:01<00:01, 1.00it/s, avr_loss={1 - i / 100:.2f}]"
        for i in range(1, 6)
    )
    feed.emit(StepOutput("train", (data + "\n").encode()))
    batch = feed.drain()
    assert batch.notices == ["log file deleted"]
    assert feed.loss_history["train"] == [0.99, 0.98, 0.97, 0.96, 0.95]


def test_live_row_cleared_when_the_line_ends_and_replay_without_exit_status() -> None:
    feed = Feed(("train",), max_duty=1.0)
    _start(feed)
    feed.emit(StepOutput("train", b"\rsteps:  50%|  | 1/2 [00:01<00:01, 1.00it/s, avr_loss=0.5]"))
    feed.emit(
        StepOutput("train", b"\rsteps: 100%|  | 2/2 [00:02<00:00, 1.00it/s, avr_loss=0.4]\nsaved\n")
    )
    batch = feed.drain()
    assert batch.partial["train"] == ""  # the pane drops its live row
    assert batch.lines["train"][-1] == "saved"
    feed.emit(StepExited("train", None))  # a replayed log: no exit status
    assert feed.steps["train"].state is StepState.DONE
    assert feed.steps["train"].note == "exit status unknown"
