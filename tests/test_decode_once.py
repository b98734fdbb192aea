"""The app decodes each step's output once: the log pane's decoded lines are what the
diagnosis normalises (the lines the literal scan keeps are not decoded again), and the
line being redrawn is decoded once for both."""

from __future__ import annotations

from pathlib import Path

from wantui.core.logtext import Normalizer
from wantui.core.supervisor import StepOutput, StepStarted
from wantui.tui.display_lines import DisplayLines
from wantui.tui.feed import Feed

LOG = (
    b"INFO:musubi_tuner.dataset.datasources:found 0 videos\n"
    b"\x1b[32mplain\x1b[0m line\n"
    b"steps:  10%|#         | 1/10 [00:01<00:09,  1.00it/s, avr_loss=0.1]\r"
    b"steps:  20%|##        | 2/10 [00:02<00:08,  1.00it/s, avr_loss=0.2]\n"
    b"caf\xc3\xa9 No training items found in the dataset\n"
)


def test_the_display_hands_over_whole_valid_chunks_only() -> None:
    d = DisplayLines()
    d.feed(b"a\nb\n")
    assert d.decoded == ["a", "b"]
    d.feed(b"half")
    assert d.decoded is None
    d.feed(b" line\nnext\n")  # starts with a pending line: not the chunk's own lines
    assert d.decoded is None
    d.feed(b"bad \xff byte\n")
    assert d.decoded is None  # not UTF-8: each line is decoded by its own code page
    d.feed(b"x\ry\n")
    assert d.decoded == ["x\ry"]  # as it is: the \r states are the normaliser's to read


def _lines(decoded: bool, prefilter: bool) -> list[tuple[int, str, int | None, bool]]:
    from wantui.core.matcher import Matcher
    from wantui.core.rules import load_rules

    keep = Matcher(load_rules(include_user=False)).prefilter_bytes() if prefilter else None
    n, d = Normalizer(keep=keep, history=True), DisplayLines()
    out = []
    for chunk in LOG.split(b"\n")[:-1]:
        chunk += b"\n"
        d.feed(chunk)
        out += n.feed(chunk, d.decoded if decoded else None)
    out += n.close()
    return [(x.number, x.text, x.rank, x.progress) for x in out]


def test_the_normaliser_gives_the_same_lines_from_decoded_text() -> None:
    for prefilter in (False, True):
        assert _lines(True, prefilter) == _lines(False, prefilter)
    assert any("café" in t for _, t, _, _ in _lines(True, True))


def test_kept_lines_are_taken_from_the_decoded_text_not_decoded_again() -> None:
    n = Normalizer()
    n.feed(b"first\n")  # (the first bytes tell how lines end)
    got = n.feed(b"one\ntwo\n", ["ONE", "TWO"])  # (what the pane decoded, marked)
    assert [x.text for x in got] == ["ONE", "TWO"]
    got = n.feed(b"one\ntwo\n", ["only one"])  # not these lines: decoded here
    assert [x.text for x in got] == ["one", "two"]


def test_the_feed_diagnoses_what_the_pane_decoded(monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    import wantui.core.diagnosis as diagnosis
    import wantui.core.logtext as logtext
    import wantui.tui.feed as feedmod

    feed = Feed(("train",))
    feed.emit(StepStarted("train", (), None, None, tmp_path / "train.log"))
    feed.emit(StepOutput("train", b"first\n"))  # (the first bytes tell how lines end)
    calls: list[bytes] = []
    real = logtext.decode_line

    def counting(raw: bytes) -> str:
        calls.append(raw)
        return real(raw)

    monkeypatch.setattr(logtext, "decode_line", counting)
    monkeypatch.setattr(feedmod, "decode_line", counting)
    monkeypatch.setattr(diagnosis, "decode_line", counting)
    feed.emit(StepOutput("train", b"INFO: found 0 videos\nother\n"))
    bar = b"\rsteps:  10%|#         | 1/10 [00:01<00:09,  1.00it/s, avr_loss=0.1]"
    feed.emit(StepOutput("train", bar))
    batch = feed.drain()
    assert [f.rule for f in batch.findings] == ["dataset-empty"]
    assert batch.partial["train"].endswith("avr_loss=0.1]")
    assert calls == [bar[1:]]  # the redrawn state, once; the whole lines not at all
