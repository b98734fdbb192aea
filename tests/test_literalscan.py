"""The matcher's prefilter engine (wantui/core/literalscan.py): Hyperscan, RE2 and the
plain-Python fallback find the same lines and the same literal groups as plain substring
tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wantui.core.literalscan import LiteralScan, LiteralSet, clean_bytes, hyperscan_module

# installed, and able to build a database on this CPU
HAS_HYPERSCAN = hyperscan_module() is not None and LiteralScan([b"x"]).engine == "hyperscan"
# each engine a scan can run on, and the environment that chooses it
ENGINES = [
    pytest.param(
        "hyperscan",
        marks=pytest.mark.skipif(not HAS_HYPERSCAN, reason="hyperscan has no wheel here"),
    ),
    "re2",
    "re",
]


def use_engine(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    monkeypatch.setenv("WANTUI_RE2", "0" if engine == "re" else "1")
    monkeypatch.setenv("WANTUI_HYPERSCAN", "1" if engine == "hyperscan" else "0")


GROUPS: list[tuple[tuple[str, ...], bool]] = [
    (("CUDA out of memory", "OutOfMemoryError"), False),
    (("avr_loss=nan",), True),
    (("found 0 ",), False),
    (("a.b*c+d?e|f^g$h\\i]j}k(l)[m]{2}",), False),
    ((), False),  # a pattern with no literal: never a hit
    (("Kelvin",), True),
]
TEXT = st.text(
    alphabet=st.sampled_from(list("aAvVrR_lLoOsS=nN CUDAoutfmemry0 .*+?|^$\\]}(){[2Kk\u212aé学")),
    max_size=60,
)


def substring_hits(text: str) -> list[int]:
    return [
        i
        for i, (lits, icase) in enumerate(GROUPS)
        if any((x.lower() in text.lower()) if icase else (x in text) for x in lits)
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(TEXT, st.sampled_from([x for g in GROUPS for x in g[0]])), max_size=4))
def test_set_hits_equal_substring_tests(parts: list[str]) -> None:
    text = "".join(parts)
    assert LiteralSet(GROUPS).hits(text) == substring_hits(text)


def test_set_uses_re2_and_the_fallback_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = LiteralSet(GROUPS)
    assert fast._set is not None
    monkeypatch.setenv("WANTUI_RE2", "0")
    slow = LiteralSet(GROUPS)
    assert slow._set is None
    for text in ["x AVR_LOSS=NaN CUDA out of memory", "found 0 videos", "KELVIN", "nothing"]:
        assert fast.hits(text) == slow.hits(text) == substring_hits(text)


@pytest.mark.parametrize("engine", ENGINES)
def test_scan_bytes_are_bytes(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Literals in cp1252 or cp932 bytes match those bytes only; case folding is ASCII
    only (an ASCII literal never matches a Latin-1 letter)."""
    use_engine(monkeypatch, engine)
    scan = LiteralScan(["café".encode("cp1252"), "学習".encode("cp932")], [b"nan"])
    assert scan.engine == engine
    data = (
        "café\n".encode("cp1252")
        + "café\n".encode()
        + "学習開始\n".encode("cp932")
        + b"NAN\n"
        + "ñan\n".encode("latin-1")
        + b"\x1b[1mN\x1b[0mAn\n"
    )
    assert [i for i, _ in scan.lines(data)] == [0, 2, 3, 5]
    assert scan.lines(data)[-1][1] == b"\x1b[1mN\x1b[0mAn"  # the raw line, not the cleaned
    assert clean_bytes(b"\x1b[1mN\x1b[0mAn") == b"NAn"


@pytest.mark.parametrize("engine", ENGINES)
def test_scan_with_no_literal_finds_nothing(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    use_engine(monkeypatch, engine)
    scan = LiteralScan([], [])
    assert scan.lines(b"a\nb\n") == [] and not scan.matches(b"anything")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("engine", ENGINES[:2])
def test_scan_time_is_linear_on_hostile_input(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many near-misses of long literals on one long line: each engine reads each byte once."""
    use_engine(monkeypatch, engine)
    lits = [b"a" * 40 + bytes([b]) for b in range(ord("b"), ord("z"))]
    scan = LiteralScan(lits)
    assert scan.engine == engine
    line = b"a" * (8 << 20) + b"\n"
    assert scan.lines(line + b"a" * 40 + b"q\n") == [(1, b"a" * 40 + b"q")]


LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [b"CUDA out of memory", b"found 0 ", b"AVR_LOSS=NaN", b"\x1b[1m", b"\x1b[0m", b"\r"]
        ),
        st.binary(max_size=8),
        st.sampled_from([b"CUDA out", b" of memory", b"found", b"\t", b"\x00", b"\n"]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(LINES)
def test_the_fallbacks_find_scan_finds_the_lines_the_alternation_does(parts: list[bytes]) -> None:
    """Without RE2 each literal is found with bytes.find; the lines (indexes and raw
    bytes) are those the one-alternation scan finds, escapes and control bytes included."""
    import os

    saved = os.environ.get("WANTUI_RE2")
    os.environ["WANTUI_RE2"] = "0"  # (hypothesis runs it many times: no monkeypatch)
    try:
        scan = LiteralScan(
            [b"CUDA out of memory", b"out of memory", b"found 0 "], [b"avr_loss=nan"]
        )
    finally:
        if saved is None:
            del os.environ["WANTUI_RE2"]
        else:
            os.environ["WANTUI_RE2"] = saved
    assert scan.engine == "re"
    block = b"".join(parts)
    found = scan.lines(block)
    scan.engine = "re2"  # the alternation's own scan, on the same re patterns
    assert found == scan.lines(block)


@settings(max_examples=300, deadline=None)
@given(LINES)
def test_hyperscan_finds_the_lines_re2_finds(parts: list[bytes]) -> None:
    """Hyperscan reports the first match to end, RE2 the leftmost: both lie in the same
    line, so the lines (indexes and raw bytes) are the same, escapes, control bytes and
    NULs (those blocks go to RE2) included."""
    if not HAS_HYPERSCAN:
        pytest.skip("hyperscan has no wheel here")
    lits = ([b"CUDA out of memory", b"out of memory", b"found 0 ", b"\rx"], [b"avr_loss=nan"])
    fast = LiteralScan(*lits)
    assert fast.engine == "hyperscan"
    block = b"".join(parts)
    want = fast._lines_from(block, _re2_first(fast, block))  # noqa: SLF001
    assert fast.lines(block) == want


def _re2_first(scan: LiteralScan, block: bytes):  # noqa: ANN202
    search = scan._scan.search  # noqa: SLF001 - RE2's scan, which Hyperscan stands in for

    def first(pos: int) -> int | None:
        m = search(block, pos)
        return None if m is None else m.start()

    return first


def test_a_second_thread_scans_with_re2_while_hyperscan_is_busy() -> None:
    """One scratch space per database: a block that finds it taken goes to RE2 at once
    (same lines) instead of failing or waiting."""
    if not HAS_HYPERSCAN:
        pytest.skip("hyperscan has no wheel here")
    scan = LiteralScan([b"CUDA out of memory"], [b"avr_loss=nan"])
    block = b"x\nCUDA out of memory\nAVR_LOSS=NaN\n" * 3
    want = scan.lines(block)
    assert [i for i, _ in want] == [1, 2, 4, 5, 7, 8]
    with scan._hs_lock:  # noqa: SLF001 - as another thread holding it
        assert scan.lines(block) == want
    assert scan.lines(b"\0CUDA out of memory\n") == [(0, b"\0CUDA out of memory")]
