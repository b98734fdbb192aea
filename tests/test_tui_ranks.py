"""Multi-GPU logs in the TUI: the ranks' duplicate lines folded (also across batches,
by rewriting a line already drawn), each rank's own lines kept, the rank count known."""

from __future__ import annotations

from pathlib import Path

from tests.fixture_logs import plain_log
from wantui.core.rules.examples import read_marked_log
from wantui.core.supervisor import StepExited, StepOutput, StepStarted
from wantui.tui.feed import Feed
from wantui.tui.rank_fold import RankFolder, split_rank

ROOT = Path(__file__).resolve().parent.parent


def test_split_rank_keeps_colour_and_ignores_other_brackets() -> None:
    assert split_rank("[rank3]: Traceback") == (3, "Traceback")
    assert split_rank("\x1b[31m[rank12]:x") == (12, "\x1b[31mx")
    assert split_rank("[Dataset 0]: x") == (None, "[Dataset 0]: x")
    assert split_rank("INFO [rank1]: late") == (None, "INFO [rank1]: late")


def test_folder_counts_ranks_and_updates_the_first_line() -> None:
    f = RankFolder()
    out, upd, ranked = f.fold(["hello", "[rank0]: Traceback", "[rank0]: boom 0"])
    assert out == ["hello", "[rank0]: Traceback", "[rank0]: boom 0"] and upd == {}
    out, upd, ranked = f.fold(["[rank1]: Traceback", "[rank1]: boom 1", "[rank0]: Traceback"])
    # rank 1 repeats line 1 (shown earlier): rewritten, not shown again; rank 0 repeating
    # itself is a new line (a second traceback), not a fold
    assert out == ["[rank1]: boom 1", "[rank0]: Traceback"]
    assert list(upd) == [1] and "[x2 ranks]" in upd[1] and upd[1].endswith("Traceback")
    assert [r for r, _ in ranked] == [1, 1, 0] and f.ranks == {0, 1} and f.shown == 5


def test_feed_folds_multirank_log_across_batches() -> None:
    data = read_marked_log(ROOT / "fixtures/logs/multirank-8-oom.log").data
    feed = Feed(("train",), rules=[], max_duty=1.0)
    feed.emit(StepStarted("train", (), None, None, Path("train.log")))
    shown: list[str] = []
    # small chunks, drained often: rank 1's copy of a line arrives after rank 3's was drawn
    for i in range(0, len(data), 2000):
        feed.emit(StepOutput("train", data[i : i + 2000]))
        batch = feed.drain()
        for index, text in batch.updates.get("train", {}).items():
            shown[index] = text
        shown.extend(batch.lines.get("train", []))
    feed.emit(StepExited("train", 1))
    shown.extend(feed.drain().lines.get("train", []))
    st = feed.steps["train"]
    assert st.ranks == 8 and st.lines == len(shown)
    tb = [x for x in shown if "rank" in x and x.endswith(" Traceback (most recent call last):")]
    assert len(tb) == 1 and "[x8 ranks]" in tb[0]
    # the OOM line differs per rank (its GPU number): eight lines, one per rank
    oom = [x for x in shown if "CUDA out of memory" in x]
    assert sorted(split_rank(x)[0] for x in oom) == list(range(8))
    assert len(shown) < data.count(b"\n") - 150  # 192 ranked lines folded to a few dozen


def test_plain_log_untouched() -> None:
    feed = Feed(("train",), rules=[], max_duty=1.0)
    feed.emit(StepOutput("train", b"a\nb\na\n"))
    b = feed.drain()
    assert b.lines["train"] == ["a", "b", "a"] and not b.updates and not b.ranked
    assert feed.steps["train"].ranks == 0


def test_replay_without_exit_status_that_shows_an_error_is_failed(tmp_path: Path) -> None:
    from wantui.tui.feed import StepState
    from wantui.tui.sources import ReplaySource, replay_plan

    feed = Feed(("train",), max_duty=1.0)  # the real rules: the OOM is an error finding
    log = plain_log(ROOT / "fixtures/logs/multirank-8-oom.log", tmp_path)
    ReplaySource(replay_plan(log), instant=True).run(feed)
    st = feed.steps["train"]
    assert st.returncode is None and st.state is StepState.FAILED
    assert st.note == "exit status unknown; the log shows an error"


def test_pane_folds_ranks_and_k_shows_one_rank_through_the_feed_process(tmp_path: Path) -> None:
    """The app as `wantui replay` builds it: a ProcessFeed (child process), the pane
    folded, k cycles rank 0, rank 1, ... and back to all; the title says which."""
    import asyncio

    from tests.fakes_tui.helpers import wait_for
    from wantui.tui.app import WantuiApp
    from wantui.tui.feed_process import ProcessFeed
    from wantui.tui.sources import ReplaySource, replay_plan

    log = plain_log(ROOT / "fixtures/logs/multirank-8-oom.log", tmp_path)

    async def main() -> None:
        feed = ProcessFeed(("train",))
        src = ReplaySource(replay_plan(log), instant=True)
        app = WantuiApp(feed=feed, source=src, title="ranks", gpu=False)
        async with app.run_test(size=(100, 30)) as pilot:
            assert await wait_for(pilot, lambda: feed.finished is not None, timeout=60)
            screen = app.screen
            title = lambda: str(screen.query_one("#pane-title").render())  # noqa: E731
            assert "8 ranks" in title() and "failed" in title()
            lines = screen.query_one("#log-train").lines()
            assert sum("[x8 ranks]" in x for x in lines) > 10
            assert not any(x.startswith("[rank1]: Traceback") for x in lines)
            await pilot.press("k")
            await pilot.pause(0.2)
            view = screen.query_one("#log-rank")
            assert "rank 0 of 8" in title() and screen.query_one("#logs").current == "log-rank"
            assert view.lines()[0] == "Trying to import sageattention"
            assert any("GPU 0 has a total capacity" in x for x in view.lines())
            assert not any("GPU 3 has" in x for x in view.lines())
            await pilot.press("k")
            await pilot.pause(0.2)
            assert "rank 1 of 8" in title()
            assert any("GPU 1 has a total capacity" in x for x in view.lines())
            for _ in range(7):
                await pilot.press("k")
            await pilot.pause(0.2)
            assert "(k: one)" in title() and screen.query_one("#logs").current == "log-train"
            assert "cuda-oom" in [f.rule for f in feed.findings]

    asyncio.run(main())
