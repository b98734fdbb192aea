"""The matcher's prefilter engine (wantui/core/literalscan.py): RE2 and the plain-Python
fallback find the same lines and the same literal groups as plain substring tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wantui.core.literalscan import LiteralScan, LiteralSet, clean_bytes

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


@pytest.mark.parametrize("re2", ["1", "0"])
def test_scan_bytes_are_bytes(re2: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Literals in cp1252 or cp932 bytes match those bytes only; case folding is ASCII
    only (an ASCII literal never matches a Latin-1 letter)."""
    monkeypatch.setenv("WANTUI_RE2", re2)
    scan = LiteralScan(["café".encode("cp1252"), "学習".encode("cp932")], [b"nan"])
    assert scan.engine == ("re2" if re2 == "1" else "re")
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


@pytest.mark.parametrize("re2", ["1", "0"])
def test_scan_with_no_literal_finds_nothing(re2: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANTUI_RE2", re2)
    scan = LiteralScan([], [])
    assert scan.lines(b"a\nb\n") == [] and not scan.matches(b"anything")


@pytest.mark.timeout(60)
def test_scan_time_is_linear_on_hostile_input() -> None:
    """Many near-misses of long literals on one long line: RE2's DFA reads each byte once."""
    lits = [b"a" * 40 + bytes([b]) for b in range(ord("b"), ord("z"))]
    scan = LiteralScan(lits)
    assert scan.engine == "re2"
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
