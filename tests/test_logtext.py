"""Log normalisation: encodings, CRLF, ANSI, tqdm, ranks, long lines, streaming."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from wantui.core.logtext import (
    MAX_LINE_CHARS,
    Line,
    Normalizer,
    decode_line,
    iter_file_lines,
    normalize_text,
)

HEALTHY = Path("/work/shared/musubi/logs/train_ok_h100.log")
FIXTURE = Path(__file__).parent / "data" / "rules" / "logs" / "train_ok_h100.log"


def healthy_log() -> Path:
    return FIXTURE if FIXTURE.exists() else HEALTHY


def texts(lines: list[Line]) -> list[str]:
    return [ln.text for ln in lines]


def test_plain_lines_keep_numbers() -> None:
    out = normalize_text(b"a\nb\n\nc")
    assert [(ln.number, ln.text) for ln in out] == [(1, "a"), (2, "b"), (3, ""), (4, "c")]


def test_crlf_is_one_line_ending() -> None:
    out = normalize_text(b"first\r\nsecond\r\n")
    assert [(ln.number, ln.text, ln.progress) for ln in out] == [
        (1, "first", False),
        (2, "second", False),
    ]


def test_ansi_escapes_stripped() -> None:
    out = normalize_text(b"\x1b[31mERROR\x1b[0m: boom \x1b]0;title\x07done\n")
    assert texts(out) == ["ERROR: boom done"]


def test_invalid_utf8_never_raises_and_falls_back() -> None:
    assert decode_line("学習開始".encode("cp932")) == "学習開始"
    assert decode_line("ファイルが見つかりません".encode("shift_jis")) == "ファイルが見つかりません"
    assert decode_line("Données déjà".encode("cp1252")) == "Données déjà"
    assert decode_line("naïve ✓".encode()) == "naïve ✓"
    assert "\ufffd" in decode_line(b"\x81\x8d\x8f\x90\x9d\xff")  # undefined in cp1252 and cp932


def test_mixed_encodings_per_line() -> None:
    data = "utf8 ✓\n".encode() + "学習開始\n".encode("cp932") + "café\n".encode("cp1252")
    assert texts(normalize_text(data)) == ["utf8 ✓", "学習開始", "café"]


def test_tqdm_collapses_to_last_state() -> None:
    data = (
        b"\rsteps:   0%|          | 0/40 [00:00<?, ?it/s]"
        b"\rsteps:   2%|\xe2\x96\x8e         | 1/40 [00:00<00:00, 1401.84it/s, avr_loss=1.68]"
        b"\rsteps:   5%|\xe2\x96\x8c         | 2/40 [00:00<00:16,  2.37it/s, avr_loss=1.63]\n"
        b"epoch 2/10\n"
    )
    out = normalize_text(data)
    assert out[0].progress and out[0].number == 1
    assert out[0].text.endswith("2/40 [00:00<00:16,  2.37it/s, avr_loss=1.63]")
    assert (out[1].number, out[1].text, out[1].progress) == (2, "epoch 2/10", False)


def test_tqdm_with_glued_log_record_gives_two_lines() -> None:
    data = b"\rsteps:   0%|          | 0/40 [00:00<?, ?it/s]INFO:musubi_tuner.training.trainer_base:network weights\n"
    out = normalize_text(data)
    assert [(ln.number, ln.progress) for ln in out] == [(1, True), (1, False)]
    assert out[1].text == "INFO:musubi_tuner.training.trainer_base:network weights"


def test_tqdm_cleared_then_record() -> None:
    data = b"\rLoading x:  80%|########  | 660/825 [00:00<00:00, 1486.42it/s]\r        \rINFO:m:Casting\n"
    out = normalize_text(data)
    assert [(ln.text.split(":")[0], ln.progress) for ln in out] == [
        ("Loading x", True),
        ("INFO", False),
    ]


def test_history_keeps_every_bar_state() -> None:
    bars = "".join(f"\rsteps: {i}/5 [00:01<00:01,  2.00it/s, avr_loss=1.{i}]" for i in range(1, 6))
    n = Normalizer(history=True)
    out = n.feed(bars.encode() + b"\n") + n.close()
    assert [ln.text.split(" ")[1] for ln in out] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    assert all(ln.progress and ln.number == 1 for ln in out)


def test_rank_prefix_removed_and_kept() -> None:
    out = normalize_text(b"[rank3]: Traceback (most recent call last):\n[default0]:x\n[rankX]: y\n")
    assert [(ln.text, ln.rank) for ln in out] == [
        ("Traceback (most recent call last):", 3),
        ("x", 0),
        ("[rankX]: y", None),
    ]


def test_chunk_boundaries_do_not_matter() -> None:
    data = healthy_log().read_bytes()
    whole = normalize_text(data)
    for size in (1, 7, 64, 4096):
        n = Normalizer()
        got: list[Line] = []
        for i in range(0, len(data), size):
            got.extend(n.feed(data[i : i + size]))
        got.extend(n.close())
        assert got == whole, size


def test_crlf_split_across_chunks() -> None:
    n = Normalizer()
    got = n.feed(b"one\r") + n.feed(b"\ntwo\r") + n.feed(b"\n") + n.close()
    assert [(ln.number, ln.text) for ln in got] == [(1, "one"), (2, "two")]


def test_ten_megabyte_line_bounded_memory() -> None:
    n = Normalizer()
    tracemalloc.start()
    out: list[Line] = []
    chunk = b"x" * (1 << 20)
    for _ in range(10):
        out.extend(n.feed(chunk))
    out.extend(n.feed(b"\nnext line\n"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * (1 << 20)
    assert [ln.number for ln in out] == [1, 2]
    assert out[0].text.startswith("x" * 1000)
    assert len(out[0].text) < MAX_LINE_CHARS + 100
    assert re.search(r"\[\.\.\. \d+ more bytes\]$", out[0].text)
    assert out[1].text == "next line"


def test_long_tqdm_line_without_newline_keeps_last_state() -> None:
    n = Normalizer()
    out: list[Line] = []
    for i in range(1, 30001):
        out.extend(n.feed(f"\rsteps: {i}/30000 [00:01<00:01,  2.00it/s, avr_loss=1.5]".encode()))
    assert len(n._pending) < 4 * (1 << 20)
    out.extend(n.close())
    assert len(out) == 1 and out[0].progress and "30000/30000" in out[0].text


def test_keep_prefilter_skips_but_counts() -> None:
    data = b"aaa\nbbb ERROR\nccc\n\x1b[1mddd\x1b[0m\neee ERROR"
    n = Normalizer(keep=re.compile(b"ERROR"))
    got = n.feed(data) + n.close()
    assert [(ln.number, ln.text) for ln in got] == [(2, "bbb ERROR"), (5, "eee ERROR")]


def test_iter_file_lines_healthy_log() -> None:
    lines = list(iter_file_lines(healthy_log()))
    assert lines[0].text == "Trying to import sageattention"
    numbers = [ln.number for ln in lines]
    assert numbers == sorted(numbers) and numbers[-1] == 108
    assert any(ln.progress and "40/40" in ln.text for ln in lines)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=12))
def test_fuzz_never_raises_numbers_monotonic(chunks: list[bytes]) -> None:
    n = Normalizer()
    out: list[Line] = []
    for c in chunks:
        out.extend(n.feed(c))
    out.extend(n.close())
    nums = [ln.number for ln in out]
    assert nums == sorted(nums)
    data = b"".join(chunks)
    # a file with \r and no \n at all may be an old-Mac one: then \r ends lines
    ends = data.count(b"\n") or data.count(b"\r")
    assert all(1 <= x <= ends + 1 for x in nums)
    assert all(isinstance(ln.text, str) and len(ln.text) <= MAX_LINE_CHARS + 100 for ln in out)
    assert all("\r" not in ln.text and "\n" not in ln.text and "\x1b" not in ln.text for ln in out)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=1, max_value=50))
def test_fuzz_chunking_invariant(data: bytes, size: int) -> None:
    n = Normalizer()
    got: list[Line] = []
    for i in range(0, len(data), size):
        got.extend(n.feed(data[i : i + size]))
    got.extend(n.close())
    assert got == normalize_text(data)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"ok line",
                "学習開始".encode("cp932"),
                "café".encode("cp1252"),
                b"\xff\xfe",
                b"",
                "✓".encode(),
            ]
        ),
        max_size=12,
    )
)
def test_block_decode_equals_per_line_decode(lines: list[bytes]) -> None:
    from wantui.core.logtext import _decode_lines

    block = b"\n".join(lines) + b"\n"
    assert _decode_lines(block) == [decode_line(x) for x in block.split(b"\n")]
