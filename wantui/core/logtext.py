"""Log normalisation: bytes in, :class:`Line` objects out, never raising.

What users paste or what the pipeline writes is messy: invalid UTF-8, Windows code pages
(cp1252, Shift-JIS/cp932), CRLF, ANSI colour codes, tqdm bars redrawn with ``\\r``,
``[rankN]:`` prefixes of multi-process runs and, sometimes, megabytes with no newline.
Rules must see clean text, and evidence must keep the *original* line numbers.

The :class:`Normalizer` is streaming and keeps bounded memory: a line with no newline
is compacted while it grows and its text truncated to :data:`MAX_LINE_CHARS`. Given the
matcher's :class:`~wantui.core.literalscan.LiteralScan` (the rules' literals, found by
RE2 in linear time), it decodes only the few relevant lines of each block that arrives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from wantui.core.literalscan import LiteralScan

MAX_LINE_CHARS = 64 * 1024  # text kept per line; the rest is counted, not stored
_COMPACT_AT = 1024 * 1024  # a pending line longer than this is compacted in place
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Line:
    """One normalised line: its original 1-based number, its text, the rank prefix it
    carried (``[rank3]:`` -> 3) and whether it is a (collapsed) tqdm progress bar."""

    number: int
    text: str
    rank: int | None = None
    progress: bool = False


_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
)
# Anything that needs more than the fast path: escapes, \r rewrites, other controls.
_NEEDS_WORK = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_RANK = re.compile(r"\[(?:rank|default)(\d+)\]:[ ]?")
# The end of a tqdm bar: "12/40 [00:08<00:16,  1.59it/s, avr_loss=1.65]" or
# "4it [00:07,  1.88s/it]". Text glued after it is a separate record. Linear on any line
# (tests/test_rules_linear.py): a match starts only where a number starts (a search
# from each digit of a 64 KiB run of digits was quadratic), and the bracket's insides
# stop at the next "[" (each of many repeats scanned to the end of the line).
TQDM_BAR = re.compile(
    r"(?<![\d.])(?:\d+(?:\.\d+)?[kMG]?/\d+(?:\.\d+)?[kMG]?|\d+(?:\.\d+)?[kMG]?it) "
    r"\[\d+:\d\d(?::\d\d)?(?:<[^,\[\]\n]*)?(?:,[^\[\]\n]*)?\]"
)
_KANA = re.compile(r"[\u3040-\u30ff]")
_CJK_RUN = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uff60]{2,}")


def decode_line(raw: bytes) -> str:
    """Decode one line: UTF-8, else Shift-JIS (when it reads as Japanese), else cp1252,
    else UTF-8 with replacement characters. Never raises."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp932")
        # Latin-1 text also "decodes" as cp932 (é + letter = a kanji); real Japanese
        # output has kana or runs of ideographs, misread Latin text rarely does.
        non_ascii = [c for c in text if ord(c) > 127]
        if _KANA.search(text) or (
            _CJK_RUN.search(text)
            and all("\u3000" <= c <= "\u9fff" or "\uff00" <= c <= "\uff60" for c in non_ascii)
        ):
            return text
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")


def _decode_lines(block: bytes) -> list[str]:
    """``block`` split at newlines and decoded: valid UTF-8 runs in one C call each; only
    a line with an invalid byte goes through :func:`decode_line` (its own code page)."""
    out: list[str] = []
    pos = 0
    while True:
        try:
            out.extend(block[pos:].decode("utf-8").split("\n"))
            return out
        except UnicodeDecodeError as exc:
            bad = pos + exc.start
            nl = block.rfind(b"\n", pos, bad)
            start = nl + 1 if nl >= 0 else pos
            end = block.find(b"\n", bad)
            if start > pos:  # the valid lines before the bad one
                out.extend(block[pos : start - 1].decode("utf-8").split("\n"))
            if end < 0:
                out.append(decode_line(block[start:]))
                return out
            out.append(decode_line(block[start:end]))
            pos = end + 1


_CONTROLS_BUT_CR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _same(seg: str) -> str:
    return seg


def _strip_rank(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        m = _RANK.match(text)
        if m:
            return text[m.end() :], int(m.group(1))
    return text, None


def _clean_segment(seg: str) -> str:
    if "\x1b" in seg:
        seg = _ANSI.sub("", seg)
    return _CONTROLS.sub("", seg)


def _truncate(text: str, dropped: int = 0) -> str:
    if len(text) > MAX_LINE_CHARS:
        dropped += len(text.encode("utf-8", "replace")) - len(
            text[:MAX_LINE_CHARS].encode("utf-8", "replace")
        )
        text = text[:MAX_LINE_CHARS]
    if dropped:
        text += f" [... {dropped} more bytes]"
    return text


def normalize_line(
    number: int, text: str, *, history: bool = False, dropped: int = 0
) -> list[Line]:
    """Normalise one decoded line (without its newline) into one or more Lines.

    Usually one; a tqdm bar with a log record glued after it (``...?it/s]INFO:...``)
    gives two Lines with the same number: the bar (``progress=True``) and the record.
    With ``history``, every earlier ``\\r`` state of a bar is returned too (for progress
    tracking that wants every step, not only the last).
    """
    if not _NEEDS_WORK.search(text):
        body, rank = _strip_rank(text)
        if TQDM_BAR.search(body) is not None:
            return _split_glued(number, body, rank, dropped)
        return [Line(number, _truncate(body, dropped), rank)]
    rank: int | None = None
    kept: list[str] = []
    # a tqdm line usually has \r and nothing else to clean: skip the per-segment cleaning
    clean = _clean_segment if _CONTROLS_BUT_CR.search(text) else _same
    ranks = "[rank" in text or "[default" in text
    for seg in text.split("\r"):
        seg = clean(seg)
        if ranks:
            seg, r = _strip_rank(seg)
            if r is not None:
                rank = r
        if seg.strip():  # tqdm clears its line with spaces; CRLF leaves an empty tail
            kept.append(seg)
    if not kept:
        return [Line(number, _truncate("", dropped), rank)]
    final = kept[-1]
    out: list[Line] = []
    if history:
        out.extend(Line(number, _truncate(s), rank, True) for s in kept[:-1] if TQDM_BAR.search(s))
    elif len(kept) > 1 and TQDM_BAR.search(final) is None:
        # "\rLoading: 80% ...\r   \rINFO: ..." : keep the bar's last state, then the record.
        for s in reversed(kept[:-1]):
            if TQDM_BAR.search(s):
                out.append(Line(number, _truncate(s), rank, True))
                break
    out.extend(_split_glued(number, final, rank, dropped))
    return out


def _split_glued(number: int, text: str, rank: int | None, dropped: int) -> list[Line]:
    m = None
    for m in TQDM_BAR.finditer(text):  # noqa: B007 - the last bar on the line
        pass
    if m is None:
        return [Line(number, _truncate(text, dropped), rank)]
    rest = text[m.end() :]
    if rest.strip():
        rest_text, r = _strip_rank(rest.lstrip())
        return [
            Line(number, _truncate(text[: m.end()]), rank, True),
            Line(number, _truncate(rest_text, dropped), rank if r is None else r),
        ]
    return [Line(number, _truncate(text.rstrip(), dropped), rank, True)]


_SNIFF_CR = 8192  # bytes looked at to tell an old-Mac (\r-only) file from tqdm redraws


def _cr_only(head: bytes) -> bool:
    """Whether ``head`` (no ``\n`` in it) reads as lines ended by ``\r``: at least one
    ``\r`` between text, and most ``\r`` pieces are not tqdm bars."""
    pieces = [p for p in head.split(b"\r") if p.strip()]
    if len(pieces) < 2 or b"\n" in head:
        return False
    bars = sum(1 for p in pieces if TQDM_BAR.search(p.decode("utf-8", "replace")))
    return bars * 2 < len(pieces)


class Normalizer:
    """Streaming normaliser: ``feed(bytes)`` returns the Lines completed so far,
    ``close()`` the last, unterminated one. Memory stays bounded whatever the input.

    ``prefilter`` (a block scanner, :meth:`Matcher.prefilter`) or ``keep`` (a bytes
    regex, searched line by line: slower, for callers without a scanner) skips lines
    before decoding: only the lines it finds are decoded and returned (line numbers still
    count every line). The matcher's scanner skips the bulk of INFO and tqdm lines.
    """

    def __init__(
        self,
        *,
        history: bool = False,
        keep: re.Pattern[bytes] | None = None,
        prefilter: LiteralScan | ScanAnd | None = None,
    ) -> None:
        self.history = history
        self.keep = keep
        # the block scanner (Matcher.prefilter()): only lines with a literal are decoded
        self.prefilter = prefilter
        self._pending = bytearray()
        self._dropping = False  # the current \r segment overflowed: drop until \r or \n
        self._dropped = 0  # bytes dropped from the current line
        # ``keep`` hit in a part of the current line that compaction dropped
        self._keep_hit = False
        self._keep_tail = b""
        # line ends: None until known; "lf" (\n, tqdm redraws with \r) or "cr" (an
        # old-Mac file: \r and never \n, so \r ends lines, see _sniff_cr)
        self._ends: str | None = None
        self.lines_seen = 0  # complete lines consumed (the next line is lines_seen + 1)
        self.bytes_seen = 0

    # -- public -------------------------------------------------------------
    def feed(self, data: bytes, decoded: list[str] | None = None) -> list[Line]:
        """The Lines ``data`` completed. ``decoded``: when ``data`` is whole lines, each of
        them decoded already (a front end that shows every line decodes them anyway), so
        the lines kept are not decoded again; ignored otherwise."""
        try:
            return self._feed(data, decoded)
        except Exception:  # never raise on input: drop the chunk, keep counting
            self.lines_seen += bytes(data).count(b"\n")
            self._pending.clear()
            return []

    def close(self) -> list[Line]:
        try:
            if self._ends is None and self._pending and _cr_only(bytes(self._pending)):
                self._ends = "cr"
                data = bytes(self._pending).replace(b"\r", b"\n")
                self._pending.clear()
                return self._feed_body(data) + self.close()
            if not self._pending and not self._dropped:
                return []
            raw = bytes(self._pending)
            self._pending.clear()
            number = self.lines_seen + 1
            dropped, self._dropped, self._dropping = self._dropped, 0, False
            if not self._kept(raw):
                return []
            return normalize_line(number, decode_line(raw), history=self.history, dropped=dropped)
        except Exception:
            return []

    # -- internals ----------------------------------------------------------
    def _line_ends(self, data: bytes) -> bytes:
        """Decide how lines end, from the first bytes: a stream with ``\r`` and no
        ``\n`` in its first :data:`_SNIFF_CR` bytes, whose ``\r`` pieces are not tqdm
        bars, is an old-Mac file and its ``\r`` become line ends."""
        if self._ends == "cr":
            return data.replace(b"\r", b"\n")
        if b"\n" in data or len(self._pending) > _SNIFF_CR:
            self._ends = "lf"
            return data
        if len(self._pending) + len(data) < _SNIFF_CR:
            self._pending += data  # not decided yet: wait for more
            return b""
        head = bytes(self._pending) + data
        self._pending.clear()
        self._ends = "cr" if _cr_only(head) else "lf"
        return head.replace(b"\r", b"\n") if self._ends == "cr" else head

    def _feed_body(self, data: bytes) -> list[Line]:
        ends, self._ends = self._ends, "lf"
        seen = self.bytes_seen  # these bytes were counted when they arrived
        try:
            return self._feed(data)
        finally:
            self._ends, self.bytes_seen = ends, seen

    def _feed(self, data: bytes, decoded: list[str] | None = None) -> list[Line]:
        if not data:
            return []
        self.bytes_seen += len(data)
        if (
            data[-1] == 10
            and self._ends == "lf"
            and not (self._pending or self._dropping or self._dropped or self._keep_hit)
        ):
            return self._emit_block(data, decoded)  # the common live case: whole lines
        if self._ends != "lf":
            data = self._line_ends(data)
            if not data:
                return []
        if self._dropping:
            data = self._skip_overflow(data)
            if not data:
                return []
        last_nl = data.rfind(b"\n")
        if last_nl < 0:
            self._pending += data
            if len(self._pending) > _COMPACT_AT:
                self._compact()
            return []
        if self._pending:
            first_nl = data.find(b"\n")
            self._pending += data[:first_nl]
            head = bytes(self._pending)
            self._pending.clear()
            out = self._emit_one(head)
            body = data[first_nl + 1 : last_nl + 1]
        else:
            out = []
            body = data[: last_nl + 1]
        tail = data[last_nl + 1 :]
        if body:
            out.extend(self._emit_block(body))
        if tail:
            self._pending += tail
            if len(self._pending) > _COMPACT_AT:
                self._compact()
        return out

    def _emit_one(self, raw: bytes) -> list[Line]:
        self.lines_seen += 1
        dropped, self._dropped = self._dropped, 0
        if not self._kept(raw):
            return []
        return normalize_line(
            self.lines_seen, decode_line(raw), history=self.history, dropped=dropped
        )

    def _emit_block(self, block: bytes, decoded: list[str] | None = None) -> list[Line]:
        """Complete lines (``block`` ends with a newline); ``decoded``: each of them
        decoded (:func:`decode_line`), or None."""
        out: list[Line] = []
        base = self.lines_seen
        count = block.count(b"\n")
        if decoded is not None and len(decoded) != count:
            decoded = None  # not these lines: decode them here
        if self.prefilter is not None:
            history = self.history
            for idx, raw in self.prefilter.lines(block):
                text = decode_line(raw) if decoded is None else decoded[idx]
                out.extend(normalize_line(base + idx + 1, text, history=history))
            self.lines_seen = base + count
            return out
        if self.keep is not None:
            pos = 0  # start of the first line not yet looked at
            counted = 0  # newlines before ``pos``
            for m in self.keep.finditer(block):
                if m.start() < pos:
                    continue  # several hits on one line
                start = block.rfind(b"\n", 0, m.start()) + 1
                end = block.find(b"\n", m.start())
                counted += block.count(b"\n", pos, start)
                out.extend(
                    normalize_line(
                        base + counted + 1, decode_line(block[start:end]), history=self.history
                    )
                )
                counted += 1
                pos = end + 1
            self.lines_seen = base + count
            return out
        if decoded is not None:
            pieces = list(decoded)
        else:
            pieces = _decode_lines(block)
            pieces.pop()  # after the final newline
        history = self.history
        for i, piece in enumerate(pieces, base + 1):
            if not _NEEDS_WORK.search(piece) and not piece.startswith("[") and "]" not in piece:
                out.append(Line(i, piece if len(piece) <= MAX_LINE_CHARS else _truncate(piece)))
            else:
                out.extend(normalize_line(i, piece, history=history))
        self.lines_seen = base + len(pieces)
        return out

    def _kept(self, raw: bytes) -> bool:
        if self.prefilter is not None:
            hit = self._keep_hit or self.prefilter.matches(raw)
        else:
            hit = self.keep is None or self._keep_hit or self.keep.search(raw) is not None
        self._keep_hit, self._keep_tail = False, b""
        return hit

    def _note_dropped(self, part: bytes) -> None:
        # the prefilter must see the whole line, as grep -F does, not just what is kept
        if (self.keep is not None or self.prefilter is not None) and not self._keep_hit:
            window = self._keep_tail + part
            if self.prefilter is not None:
                self._keep_hit = self.prefilter.matches(window)
            else:
                self._keep_hit = self.keep.search(window) is not None  # type: ignore[union-attr]
            self._keep_tail = window[-512:]

    def _skip_overflow(self, data: bytes) -> bytes:
        cut = len(data)
        for sep in (b"\r", b"\n"):
            i = data.find(sep)
            if 0 <= i < cut:
                cut = i
        self._note_dropped(data[:cut])
        self._dropped += cut
        if cut == len(data):
            return b""
        self._dropping = False
        return data[cut:]

    def _compact(self) -> None:
        """Bound a line that keeps growing without a newline: keep its last bar state,
        its last non-empty segment and the start of the current segment."""
        buf = bytes(self._pending)
        self._note_dropped(buf)
        segs = buf.split(b"\r")
        current = segs[-1]
        keep: list[bytes] = []
        bar = None
        last = None
        for seg in segs[:-1]:
            if seg.strip():
                last = seg[: MAX_LINE_CHARS * 4]
                if TQDM_BAR.search(seg.decode("utf-8", "replace")[-400:]):
                    bar = last
        if bar is not None and bar is not last:
            keep.append(bar)
        if last is not None:
            keep.append(last)
        limit = MAX_LINE_CHARS * 4  # bytes: up to 4 per character
        if len(current) > limit:
            self._dropped += len(current) - limit
            current = current[:limit]
            self._dropping = True
        keep.append(current)
        self._pending = bytearray(b"\r".join(keep))


class ScanAnd:
    """A :class:`LiteralScan` plus an extra bytes regex (``keep = "(?:<prefilter>)|<extra>"``,
    as the TUI asks for progress lines too): a line passes if either finds it."""

    def __init__(self, prefilter: LiteralScan, extra: re.Pattern[bytes]) -> None:
        self.prefilter = prefilter
        self.extra = extra

    def matches(self, line: bytes) -> bool:
        return self.extra.search(line) is not None or self.prefilter.matches(line)

    def lines(self, block: bytes) -> list[tuple[int, bytes]]:
        found = dict(self.prefilter.lines(block))
        pos = 0  # start of the first line not looked at
        counted = 0  # newlines before pos
        for m in self.extra.finditer(block):
            if m.start() < pos:
                continue
            start = block.rfind(b"\n", 0, m.start()) + 1
            end = block.find(b"\n", m.start())
            end = len(block) if end < 0 else end
            counted += block.count(b"\n", pos, start)
            found.setdefault(counted, block[start:end])
            counted += 1
            pos = end + 1
        return sorted(found.items())


def normalize_text(data: bytes) -> list[Line]:
    """Normalise a whole log held in memory."""
    n = Normalizer()
    return n.feed(data) + n.close()


def iter_file_lines(
    path: str | Path, *, history: bool = False, keep: re.Pattern[bytes] | None = None
) -> Iterator[Line]:
    """Stream the normalised lines of a file in bounded memory (raises OSError only
    for a file that cannot be opened or read)."""
    n = Normalizer(history=history, keep=keep)
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            yield from n.feed(chunk)
    yield from n.close()
