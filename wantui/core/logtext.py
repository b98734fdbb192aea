"""Log normalisation: bytes in, :class:`Line` objects out, never raising.

What users paste or what the pipeline writes is messy: invalid UTF-8, Windows code pages
(cp1252, Shift-JIS/cp932), CRLF, ANSI colour codes, tqdm bars redrawn with ``\\r``,
``[rankN]:`` prefixes of multi-process runs and, sometimes, megabytes with no newline.
Rules must see clean text, and evidence must keep the *original* line numbers.

The :class:`Normalizer` is streaming and keeps bounded memory: a line with no newline
is compacted while it grows and its text truncated to :data:`MAX_LINE_CHARS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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
# "4it [00:07,  1.88s/it]". Text glued after it is a separate record.
TQDM_BAR = re.compile(
    r"(?:\d+(?:\.\d+)?[kMG]?/\d+(?:\.\d+)?[kMG]?|\d+(?:\.\d+)?[kMG]?it) "
    r"\[\d+:\d\d(?::\d\d)?(?:<[^,\]\n]*)?(?:,[^\]\n]*)?\]"
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
    for seg in text.split("\r"):
        seg, r = _strip_rank(_clean_segment(seg))
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


class Normalizer:
    """Streaming normaliser: ``feed(bytes)`` returns the Lines completed so far,
    ``close()`` the last, unterminated one. Memory stays bounded whatever the input.

    ``keep`` (a bytes regex) is an optional prefilter: only lines whose raw bytes it
    matches are decoded and returned (line numbers still count every line). The
    matcher uses it to skip the bulk of INFO and tqdm lines at C speed.
    """

    def __init__(
        self,
        *,
        history: bool = False,
        keep: re.Pattern[bytes] | None = None,
        scan: re.Pattern[bytes] | None = None,
    ) -> None:
        self.history = history
        self.keep = keep
        # a faster, looser regex that finds candidate lines for ``keep`` to confirm
        self.scan = scan if keep is not None else None
        self._pending = bytearray()
        self._dropping = False  # the current \r segment overflowed: drop until \r or \n
        self._dropped = 0  # bytes dropped from the current line
        # ``keep`` hit in a part of the current line that compaction dropped
        self._keep_hit = False
        self._keep_tail = b""
        self.lines_seen = 0  # complete lines consumed (the next line is lines_seen + 1)
        self.bytes_seen = 0

    # -- public -------------------------------------------------------------
    def feed(self, data: bytes) -> list[Line]:
        try:
            return self._feed(data)
        except Exception:  # never raise on input: drop the chunk, keep counting
            self.lines_seen += bytes(data).count(b"\n")
            self._pending.clear()
            return []

    def close(self) -> list[Line]:
        try:
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
    def _feed(self, data: bytes) -> list[Line]:
        if not data:
            return []
        self.bytes_seen += len(data)
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

    def _emit_block(self, block: bytes) -> list[Line]:
        """Complete lines (``block`` ends with a newline)."""
        out: list[Line] = []
        base = self.lines_seen
        if self.keep is not None:
            pos = 0  # start of the first line not yet looked at
            counted = 0  # newlines before ``pos``
            keep = self.keep
            scan = self.scan or keep
            for m in scan.finditer(block):
                if m.start() < pos:
                    continue  # several hits on one line
                start = block.rfind(b"\n", 0, m.start()) + 1
                end = block.find(b"\n", m.start())
                counted += block.count(b"\n", pos, start)
                if scan is not keep and keep.search(block, start, end) is None:
                    counted += 1  # a candidate of the loose scan only: skip the line
                    pos = end + 1
                    continue
                out.extend(
                    normalize_line(
                        base + counted + 1, decode_line(block[start:end]), history=self.history
                    )
                )
                counted += 1
                pos = end + 1
            self.lines_seen = base + block.count(b"\n")
            return out
        try:
            text = block.decode("utf-8")
            pieces = text.split("\n")
        except UnicodeDecodeError:
            pieces = [decode_line(b) for b in block.split(b"\n")]
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
        hit = self.keep is None or self._keep_hit or self.keep.search(raw) is not None
        self._keep_hit, self._keep_tail = False, b""
        return hit

    def _note_dropped(self, part: bytes) -> None:
        # the prefilter must see the whole line, as grep -F does, not just what is kept
        if self.keep is not None and not self._keep_hit:
            window = self._keep_tail + part
            self._keep_hit = self.keep.search(window) is not None
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


_GREP_READ = 1 << 20


_ERE_SPECIAL = re.compile(rb"([\[.^$*+?(){|\\])")  # "]" and "}" are ordinary outside brackets


def _ere_literal(lit: bytes, *, bracket_first: bool = False) -> bytes:
    """``lit`` as an ERE matching exactly it; with ``bracket_first`` its first byte is
    written as a one-byte bracket expression (same meaning, but not "all literal")."""
    if bracket_first and lit[:1] not in (b"", b"]", b"^", b"-", b"["):
        return b"[" + lit[:1] + b"]" + _ERE_SPECIAL.sub(rb"\\\1", lit[1:])
    return _ERE_SPECIAL.sub(rb"\\\1", lit)


def grep_lines(
    path: str | Path,
    literals: list[bytes],
    *,
    ignore_case: bool = False,
    keep: re.Pattern[bytes] | None = None,
    grep: str = "grep",
    source: BinaryIO | None = None,
    prefix: bytes = b"",
) -> Iterator[Line]:
    """Normalised lines of ``path`` that contain one of ``literals``, found by an external
    grep (a DFA in C, hundreds of MB/s) instead of Python; line numbers are the file's.

    With ``keep`` (the Python prefilter), grep's lines are narrowed to exactly the lines
    ``iter_file_lines(path, keep=keep)`` gives, so the matcher sees the same input either
    way (tested). ``ignore_case`` makes grep match every literal without case: a superset
    that ``keep`` narrows. Raises OSError when grep cannot run or fails.

    The literals go to ``grep -E`` with the first one written as a bracket expression
    (``[f]ound 0 videos``): GNU grep turns an all-literal pattern list into ``-F``, whose
    automaton slows down with the number of strings (~200 here), while its DFA does not.

    With ``source`` (e.g. stdin), ``path`` is ignored: ``prefix`` (bytes already read from
    it) and then the rest of ``source`` are pumped into grep by a thread.
    """
    import subprocess
    import threading

    cmd = [grep, "-a", "-n", "-E"]
    if ignore_case:
        cmd.append("-i")
    ordered = sorted(set(literals), key=len, reverse=True)
    first = next((x for x in ordered if x[:1] not in (b"", b"]", b"^", b"-", b"[")), None)
    for lit in ordered:
        cmd += ["-e", _ere_literal(lit, bracket_first=lit is first)]
    cmd += ["--", "-" if source is not None else str(path)]
    env = {"LC_ALL": "C", "PATH": __import__("os").environ.get("PATH", "")}
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if source is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    pump_error: list[OSError] = []
    if source is not None:
        sink = proc.stdin
        assert sink is not None

        def pump() -> None:
            try:
                data = prefix
                while data:
                    sink.write(data)
                    data = source.read(_GREP_READ)
            except BrokenPipeError:
                pass  # grep stopped (killed by us, or failed: its status says which)
            except OSError as exc:
                pump_error.append(exc)
            finally:
                try:
                    sink.close()
                except OSError:
                    pass

        threading.Thread(target=pump, name="wantui-grep-pump", daemon=True).start()
    try:
        out = proc.stdout
        while True:
            piece = out.readline(_GREP_READ)
            if not piece:
                break
            colon = piece.find(b":")
            number = int(piece[:colon])
            rest = piece[colon + 1 :]
            if rest.endswith(b"\n"):
                if keep is None or keep.search(rest) is not None:
                    yield from normalize_line(number, decode_line(rest[:-1]))
                continue
            # a long line: stream it through a Normalizer so memory stays bounded
            norm = Normalizer(keep=keep)
            norm.lines_seen = number - 1
            lines = norm.feed(rest)
            while True:
                piece = out.readline(_GREP_READ)
                if not piece:
                    break
                lines += norm.feed(piece)
                if piece.endswith(b"\n"):
                    break
            lines += norm.close()
            yield from lines
        status = proc.wait()
        if pump_error:
            raise pump_error[0]
        if status not in (0, 1):
            err = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
            raise OSError(f"grep failed ({status}): {err[-1] if err else ''}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
