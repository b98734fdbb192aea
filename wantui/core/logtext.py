"""Log normalisation: bytes in, :class:`Line` objects out, never raising.

What users paste or what the pipeline writes is messy: invalid UTF-8, Windows code pages
(cp1252, Shift-JIS/cp932), CRLF, ANSI colour codes, tqdm bars redrawn with ``\\r``,
``[rankN]:`` prefixes of multi-process runs and, sometimes, megabytes with no newline.
Rules must see clean text, and evidence must keep the *original* line numbers.

The :class:`Normalizer` is streaming and keeps bounded memory: a line with no newline
is compacted while it grows and its text truncated to :data:`MAX_LINE_CHARS`. Given a
:class:`Prefilter` (the rules' literals), it finds the few relevant lines of each block that
arrives with a handful of C passes and decodes only those: ~100+ MB/s in pure Python.
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
        prefilter: Prefilter | None = None,
    ) -> None:
        self.history = history
        self.keep = keep
        # the block scanner: only lines with a literal are decoded (see Prefilter)
        self.prefilter = prefilter if prefilter is not None else _known_prefilter(keep)
        # a faster, looser regex that finds candidate lines for ``keep`` to confirm
        self.scan = scan if keep is not None else None
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
    def feed(self, data: bytes) -> list[Line]:
        try:
            return self._feed(data)
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

    def _feed(self, data: bytes) -> list[Line]:
        if not data:
            return []
        self.bytes_seen += len(data)
        if (
            data[-1] == 10
            and self._ends == "lf"
            and not (self._pending or self._dropping or self._dropped or self._keep_hit)
        ):
            return self._emit_block(data)  # the common live case: whole lines arrived
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

    def _emit_block(self, block: bytes) -> list[Line]:
        """Complete lines (``block`` ends with a newline)."""
        out: list[Line] = []
        base = self.lines_seen
        if self.prefilter is not None:
            history = self.history
            for idx, raw in self.prefilter.lines(block):
                out.extend(normalize_line(base + idx + 1, decode_line(raw), history=history))
            self.lines_seen = base + block.count(b"\n")
            return out
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


# -- the literal prefilter: find the few relevant lines of a big block at C speed ---------
# Typical healthy output (tqdm bars and INFO records): bytes frequent here make bad anchors.
_TYPICAL = (
    b"INFO:musubi_tuner.training.trainer_base:DiT dtype: torch.bfloat16, device: cuda:0\n"
    b"INFO:musubi_tuner.dataset.bucket:bucket: (960, 544, 81), count: 12\n"
    b"INFO:musubi_tuner.utils.lora_utils:Loading state dict without FP8 optimization. Dtype of"
    b" weight: None, hook enabled: False\n"
    b"INFO:musubi_tuner.wan.modules.model:Loading DiT model from models/wan2.1_t2v_1.3B_bf16"
    b".safetensors, device=cuda, loading_device: cuda, fp8_scaled: False\n"
    b"INFO:musubi_tuner.training.trainer_base:set VAE model name for metadata: models/wan_2.1"
    b"_vae.safetensors\nTrying to import sageattention\naccelerator device: cuda\n"
    b"INFO:musubi_tuner.dataset.cache_io:epoch is incremented. current_epoch: 0, epoch: 1\n"
    b"WanModel: Gradient checkpointing enabled. Activation CPU offloading: False\n"
    b"INFO:musubi_tuner.wan.modules.model:Loaded DiT model from /models/wan2.1_t2v_14B_bf16"
    b".safetensors, info=<All keys matched successfully>\n"
    + "\rsteps:  35%|███▌      | 14/40 [00:08<00:16,  1.59it/s, avr_loss=0.1652]".encode() * 8
    + "\rLoading wan2.1_t2v_14B_bf16.safetensors: 100%|██████████| 1095/1095 [00:02<00:00, "
    "460.20it/s]\n4it [00:07,  1.88s/it]\nepoch 2/16\n".encode()
    + b"INFO:musubi_tuner.dataset.datasources:glob videos in /home/user/data/videos\n"
    b"INFO:musubi_tuner.dataset.datasources:found 24 videos\n"
    b'  caption_extension: ".txt"  enable_bucket: True  bucket_no_upscale: True\n'
    b'  cache_directory: "/home/user/data/cache"  debug_dataset: False\n'
    b"INFO:musubi_tuner.training.trainer_base:Loading DiT model from models/x.safetensors\n"
    b"INFO:musubi_tuner.wan.modules.model:Creating WanModel. I2V: False, FLF2V: False, device: cuda\n"
    b"INFO:musubi_tuner.utils.lora_utils:Loading model files: ['models/x.safetensors']\n"
    b"INFO:musubi_tuner.networks.lora:create LoRA network. base dim (rank): 32, alpha: 16.0\n"
    b"prepare optimizer, data loader etc.\n"
    b"INFO:musubi_tuner.training.trainer_base:use AdamW optimizer | {}\n"
    b"INFO:musubi_tuner.training.trainer_base:model saved.\n"
)
_FREQ = [0.0] * 256  # occurrences per MB of typical output
for _b in _TYPICAL:
    _FREQ[_b] += 1e6 / len(_TYPICAL)
# a byte never seen above is still not free: letters and digits are common in other logs
for _b in range(256):
    _FREQ[_b] += 300.0 if chr(_b).isalnum() else 100.0
_NOT_ANCHOR = b"\n\r"
# Bytes that need cleaning before literals can be looked for: ANSI escapes and controls
# (not \t, \n, \r: a \r ends a tqdm segment, and no literal spans one).
_DIRTY = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def _is_dirty(data: bytes) -> bool:
    # translate() runs at GB/s; a regex character class scan is ~5x slower
    return len(data.translate(None, _DIRTY)) != len(data)


_ANSI_BYTES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n\r]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]"
)
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")
_PASS_US = 400.0  # one regex pass over 1 MB, scanning for a literal first byte in C
_MERGED_US = 20.0  # an anchor's share of the one merged pass (see _merge_passes)
_FIND_US = 50.0  # memchr for one byte over 1 MB
_PYHIT_US = 0.4  # a hit of that byte handled from Python
_HIT_US = 0.08  # a failed try of the rest of the pattern at a hit of that byte
_MIN_PIECE = 4  # where the literal allows: shorter pieces hit more often by chance
_PIECE = 12  # anchor pieces are at most this long: short pieces merge, long ones are rarer


def clean_bytes(data: bytes) -> bytes:
    """``data`` without ANSI escapes and control bytes (newlines and ``\\r`` kept), the
    byte-level twin of what :func:`normalize_line` removes from a line's text."""
    return _CONTROL_BYTES.sub(b"", _ANSI_BYTES.sub(b"", data))


def _case_variants(piece: bytes) -> list[bytes]:
    out = [b""]
    for b in piece:
        c = bytes([b])
        alts = {c.lower(), c.upper()}
        out = [o + a for o in out for a in sorted(alts)]
    return out


def _trie_pattern(words: list[bytes]) -> bytes:
    """A regex for any of ``words`` (none a prefix of another), factored as a trie: the
    top level is a branch of literal bytes, which lets ``re`` scan for its first bytes in C
    (its "charset prefix") and only then try the few alternatives that start there."""
    root: dict = {}
    for w in words:
        node = root
        for b in w:
            node = node.setdefault(b, {})

    def emit(node: dict) -> bytes:
        alts = [re.escape(bytes([k])) + emit(node[k]) for k in sorted(node)]
        if not alts:
            return b""
        return alts[0] if len(alts) == 1 else b"(?:" + b"|".join(alts) + b")"

    return emit(root) if root else b"(?!)"


class Prefilter:
    """Finds the lines of a block that contain one of a set of byte literals, exactly.

    Every literal is given an *anchor*: one of its bytes, rare in ordinary musubi-tuner
    output, starting a *piece* (the anchor and up to 5 next bytes) not seen in healthy
    logs. The block is translated (``bytes.translate``, GB/s) so that every anchor byte
    becomes ``\x00``; one regex, ``\x00`` followed by a trie of the translated pieces,
    then runs over it: ``re`` scans for a literal first byte in C and tries the trie only
    at anchors. Anchors that are very rare may instead be found with ``bytes.find``
    (memchr); case-folded literals get their own pass. A hit's line is confirmed with
    ``in`` checks of just the literals its piece stands for. Cost per block: a few C passes,
    plus work per *candidate* line, never per line.

    ``folded`` literals (lower case) match regardless of ASCII case. Lines with ANSI
    escapes or control bytes are looked at cleaned (:func:`clean_bytes`), since an escape
    can split a literal; line indexes and the returned raw lines are the block's own.
    """

    def __init__(self, plain: list[bytes], folded: list[bytes] = ()) -> None:  # type: ignore[assignment]
        self.plain = sorted({x for x in plain if x})
        self.folded = sorted({x.lower() for x in folded if x})
        entries = [(lit, False) for lit in self.plain] + [(lit, True) for lit in self.folded]

        def cost(b: int, icase: bool) -> float:
            # microseconds per MB of typical output: the pass, plus a try at every hit
            hits = (
                _FREQ[b | 0x20] + _FREQ[b & 0xDF] if icase and 65 <= (b & 0xDF) <= 90 else _FREQ[b]
            )
            # a rare byte is cheaper to find with memchr and a try per hit from Python
            return min(_MERGED_US + hits * _HIT_US, _FIND_US + hits * _PYHIT_US)

        uncovered = range(len(entries))
        # where each literal may be anchored: byte -> the first offset whose piece (the
        # anchor and the next bytes) is not seen in healthy output; any offset if none is
        spots: list[dict[int, int]] = []
        for lit, icase in entries:
            low = lit.lower() if icase else lit
            limit = max(1, len(lit) - _MIN_PIECE + 1)  # leave a long enough piece
            good: dict[int, int] = {}
            fallback: dict[int, int] = {}  # least seen piece per byte, if none is unseen
            fallback_seen: dict[int, int] = {}
            for k in range(limit):
                b = low[k]
                if b in _NOT_ANCHOR:
                    continue
                piece = lit[k : k + _PIECE]
                seen = _TYPICAL.count(piece)
                if b not in fallback or seen < fallback_seen[b]:
                    fallback[b], fallback_seen[b] = k, seen
                if piece not in _TYPICAL and piece.lower() not in _TYPICAL.lower():
                    good.setdefault(b, k)
            if not (good or fallback):  # a short literal starting with a line end
                fallback = {b: k for k, b in reversed(list(enumerate(low))) if b not in _NOT_ANCHOR}
            spots.append(good or fallback)
        # Every literal takes its cheapest anchor byte (the cost is per anchor byte, not
        # per literal, and the cheapest bytes are shared by many literals); then anchors
        # whose literals all have another chosen anchor are dropped, dearest first.
        chosen: set[tuple[int, bool]] = set()
        for i in uncovered:
            icase = entries[i][1]
            if spots[i]:
                chosen.add((min(spots[i], key=lambda b, ic=icase: cost(b, ic)), icase))
        for key in sorted(chosen, key=lambda k: -cost(k[0], k[1])):
            rest = chosen - {key}
            if all(
                any((b, entries[i][1]) in rest for b in spots[i])
                for i in range(len(entries))
                if spots[i] and (key[0] in spots[i] and key[1] == entries[i][1])
            ):
                chosen = rest
        anchors: dict[tuple[int, bool], list[int]] = {}
        for i in uncovered:
            icase = entries[i][1]
            options = [b for b in spots[i] if (b, icase) in chosen]
            if options:
                b = min(options, key=lambda b, ic=icase: cost(b, ic))
                anchors.setdefault((b, icase), []).append(i)
        # per anchor: (regex of its pieces, memchr needles or (), case-folded?,
        # piece -> the (plain, folded) literals it stands for, translation table or None)
        self._groups: list[
            tuple[
                re.Pattern[bytes],
                tuple[bytes, ...],
                bool,
                dict[bytes, tuple[tuple[bytes, ...], tuple[bytes, ...]]],
                bytes | None,
            ]
        ] = []
        for (b, icase), idxs in sorted(anchors.items()):
            piece_of = {
                entries[i][0]: entries[i][0][spots[i][b] : spots[i][b] + _PIECE] for i in idxs
            }
            # a piece extending another is redundant: the shorter one finds its lines too
            short = sorted(set(piece_of.values()), key=len)
            kept = [p for j, p in enumerate(short) if not any(p.startswith(q) for q in short[:j])]
            owners = {}
            for k in kept:
                lits = tuple(sorted(lit for lit, piece in piece_of.items() if piece.startswith(k)))
                owners[k] = ((), lits) if icase else (lits, ())
            hits = _FREQ[b] + (_FREQ[b & 0xDF] if icase and 97 <= b <= 122 else 0)
            memchr: tuple[bytes, ...] = ()
            if _FIND_US + hits * _PYHIT_US < _MERGED_US + hits * _HIT_US:
                memchr = (
                    (bytes([b]), bytes([b & 0xDF])) if icase and 97 <= b <= 122 else (bytes([b]),)
                )
            rx = re.compile(_trie_pattern(kept), re.IGNORECASE if icase else 0)
            self._groups.append((rx, memchr, icase, owners, None))
        self._merge_passes()
        self.anchors = bytes(b for b, _ in sorted(anchors))
        # groups with a piece that has its anchor byte inside: a non-overlapping scan
        # could hide a hit that starts within another, so they are searched position by position
        self._overlap = {
            id(g[3]) for g in [*self._groups, *self._small] if any(k[:1] in k[1:] for k in g[3])
        }

    def _merge_passes(self) -> None:
        """Fold the regex passes of several anchor bytes into one: the block is translated
        (GB/s) so that all those anchors become one byte, ``\x00``, and one regex over
        the translated pieces finds every candidate. One pass instead of a dozen. Short
        blocks (a live line) fold the memchr anchors in too: fewer calls per line."""
        groups = self._groups
        self._groups = _merged(groups, [g for g in groups if not g[1] and _mergeable(g)])
        self._small = _merged(groups, [g for g in groups if _mergeable(g)])
        self._tmap = next((g[4] for g in self._groups if g[4] is not None), None)
        self._small_tmap = next((g[4] for g in self._small if g[4] is not None), None)

    def __repr__(self) -> str:
        return (
            f"Prefilter({len(self.plain)} + {len(self.folded)} literals, anchors {self.anchors!r})"
        )

    def matches(self, line: bytes) -> bool:
        """Whether one line (or part of one) contains a literal."""
        if _is_dirty(line):
            line = clean_bytes(line)
        for rx, _memchr, icase, owners, tmap in self._small:
            hay = line if tmap is None else line.translate(tmap)
            for m in _overlapping(rx, hay):
                if _contains(line, owners[m.group().lower() if icase else m.group()]):
                    return True
        return False

    def lines(self, block: bytes) -> list[tuple[int, bytes]]:
        """(0-based line index, raw line without its newline) of every line of ``block``
        that contains a literal, in order; the last line may lack a newline."""
        if len(block) > 4096:
            groups, tmap = self._groups, self._tmap
        else:
            groups, tmap = self._small, self._small_tmap
        hay = block
        raw: list[bytes] | None = None
        # the merged pass's translation also marks control bytes (as \x02): one C pass
        # both finds anchors and tells whether the block needs cleaning
        translated = block.translate(tmap) if tmap is not None else None
        if (b"\x02" in translated) if translated is not None else _is_dirty(block):
            hay = clean_bytes(block)  # newlines kept: line indexes are the same
            raw = block.split(b"\n")
            translated = hay.translate(tmap) if tmap is not None else None
        starts: set[int] = set()
        rfind = hay.rfind
        find = hay.find
        for rx, memchr, icase, owners, tmap in groups:
            if tmap is not None:
                found = _overlapping(rx, translated)  # type: ignore[assignment,arg-type]
            elif memchr:
                match = rx.match
                found = []
                for needle in memchr:
                    p = find(needle)
                    while p >= 0:
                        m = match(hay, p)
                        if m is not None:
                            found.append(m)
                        p = find(needle, p + 1)
                if len(memchr) > 1:
                    found.sort(key=lambda m: m.start())
            elif id(owners) in self._overlap:
                # a piece with its anchor byte inside could hide an overlapping one
                found = _overlapping(rx, hay)  # type: ignore[assignment]
            else:
                found = rx.finditer(hay)  # type: ignore[assignment]
            last = -1  # the line start last confirmed for this group
            for m in found:
                p = m.start()
                if p < last:
                    continue  # its line is in already
                start = rfind(b"\n", 0, p) + 1
                if start in starts:
                    continue
                end = find(b"\n", p)
                if end < 0:
                    end = len(hay)
                lits = owners[m.group().lower() if icase else m.group()]
                if _contains(hay[start:end], lits):
                    starts.add(start)
                    last = end
        if not starts:
            return []
        out: list[tuple[int, bytes]] = []
        counted = 0  # newlines of ``hay`` before ``counted_to``
        counted_to = 0
        for start in sorted(starts):
            end = find(b"\n", start)
            counted += hay.count(b"\n", counted_to, start)
            counted_to = start
            out.append(
                (
                    counted,
                    raw[counted] if raw is not None else hay[start : end if end >= 0 else len(hay)],
                )
            )
        return out


def _merged(groups: list, merge: list) -> list:
    """``groups`` with the ``merge`` ones replaced by one pass over a translated block."""
    if len(merge) < 2:
        return list(groups)
    table = bytearray(range(256))
    for c in _DIRTY:
        table[c] = 2  # control bytes (NUL included) are marked, never anchors
    for g in merge:
        for piece in g[3]:
            table[piece[0]] = 0
    tmap = bytes(table)
    owners: dict[bytes, tuple[set[bytes], set[bytes]]] = {}
    for g in merge:
        for piece, (plain, folded) in g[3].items():
            # a case-folded piece enters as all its case variants
            for v in _case_variants(piece) if g[2] else [piece]:
                entry = owners.setdefault(v.translate(tmap), (set(), set()))
                entry[0].update(plain)
                entry[1].update(folded)
    kept: dict[bytes, tuple[set[bytes], set[bytes]]] = {}
    for key in sorted(owners, key=len):
        host = next((k for k in kept if key.startswith(k)), None)
        entry = kept.setdefault(key if host is None else host, (set(), set()))
        entry[0].update(owners[key][0])
        entry[1].update(owners[key][1])
    rx = re.compile(_trie_pattern(list(kept)))
    rest = [g for g in groups if g not in merge]
    done = {k: (tuple(sorted(a)), tuple(sorted(b))) for k, (a, b) in kept.items()}
    return [*rest, (rx, (), False, done, tmap)]


def _mergeable(group: tuple) -> bool:
    """Plain groups merge; a case-folded one too when its anchor has no case and its
    pieces few letters (each enters the merged trie as all its case variants)."""
    if not group[2]:
        return True
    return all(
        not chr(piece[0]).isalpha() and sum(chr(c).isalpha() for c in piece) <= 6
        for piece in group[3]
    )


def _overlapping(rx: re.Pattern[bytes], hay: bytes) -> Iterator[re.Match[bytes]]:
    m = rx.search(hay)
    while m is not None:
        yield m
        m = rx.search(hay, m.start() + 1)


def _contains(line: bytes, lits: tuple[tuple[bytes, ...], tuple[bytes, ...]]) -> bool:
    plain, folded = lits
    for lit in plain:
        if lit in line:
            return True
    if folded:
        low = line.lower()
        for lit in folded:
            if lit in low:
                return True
    return False


# Prefilters known by the regex a matcher hands out (``Matcher.prefilter_bytes()``), so
# that ``Normalizer(keep=that_regex)`` takes the block path without changing its callers.
_KNOWN: dict[re.Pattern[bytes], Prefilter] = {}


class _PrefilterAnd:
    """A :class:`Prefilter` plus an extra bytes regex (``keep = "(?:<prefilter>)|<extra>"``,
    as the TUI asks for progress lines too): a line passes if either finds it."""

    def __init__(self, prefilter: Prefilter, extra: re.Pattern[bytes]) -> None:
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


def _known_prefilter(keep: re.Pattern[bytes] | None) -> Prefilter | _PrefilterAnd | None:
    if keep is None:
        return None
    known = _KNOWN.get(keep)
    if known is not None:
        return known
    for pattern, prefilter in list(_KNOWN.items()):
        head = b"(?:" + pattern.pattern + b")|"
        if (
            isinstance(keep.pattern, bytes)
            and keep.pattern.startswith(head)
            and keep.flags == pattern.flags
        ):
            try:
                extra = re.compile(keep.pattern[len(head) :], keep.flags)
            except re.error:
                return None
            return _PrefilterAnd(prefilter, extra)
    return None


def register_prefilter(keep: re.Pattern[bytes], prefilter: Prefilter) -> None:
    """Make ``Normalizer(keep=keep)`` use ``prefilter`` (which must pass the same lines)."""
    if len(_KNOWN) > 64:
        _KNOWN.clear()
    _KNOWN[keep] = prefilter


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
# grep holds a whole line in memory (a 1 GB single-line log cost 2.1 GB): each line is
# cut to this many bytes on its way to grep. Its text is cut to MAX_LINE_CHARS anyway; a
# literal past this point of such a line is not seen (the Python path would see it).
GREP_MAX_LINE = 8 << 20


def bounded_lines(chunks: Iterator[bytes], limit: int = GREP_MAX_LINE) -> Iterator[bytes]:
    """``chunks`` with every line cut to ``limit`` bytes (its newline kept, so line
    numbers stay the file's). C-speed: only the parts of a chunk that continue a line
    across chunk boundaries are looked at, so chunks must be shorter than ``limit``."""
    run = 0  # bytes of the current line already passed on
    for data in chunks:
        first = data.find(b"\n")
        if first < 0:
            if run < limit:
                yield data[: limit - run]
            run += len(data)
            continue
        if run < limit:
            yield data[: min(first, limit - run)]
        last = data.rfind(b"\n")
        yield data[first : last + 1]  # whole lines: each shorter than the chunk
        tail = data[last + 1 :]
        run = len(tail)
        if tail:
            yield tail[:limit]


def _read_chunks(source: BinaryIO, prefix: bytes) -> Iterator[bytes]:
    if prefix:
        yield prefix
    while True:
        data = source.read(_GREP_READ)
        if not data:
            return
        yield data


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

    With ``source`` (e.g. stdin, or the open log), ``path`` is ignored: ``prefix`` (bytes
    already read from it) and then the rest of ``source`` are pumped into grep by a
    thread. A file is pumped the same way: every line is cut to :data:`GREP_MAX_LINE`
    bytes on its way, so grep's memory stays bounded whatever the longest line.
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
    cmd += ["--", "-"]
    env = {"LC_ALL": "C", "PATH": __import__("os").environ.get("PATH", "")}
    opened = None
    if source is None:
        opened = source = open(path, "rb")  # noqa: SIM115 - closed below
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
    except OSError:
        if opened is not None:
            opened.close()
        raise
    assert proc.stdout is not None and proc.stderr is not None
    pump_error: list[OSError] = []
    # the pump: the same path for a file and for stdin
    sink = proc.stdin
    assert sink is not None
    feed = source

    def pump() -> None:
        try:
            for data in bounded_lines(_read_chunks(feed, prefix)):
                sink.write(data)
        except (BrokenPipeError, ValueError):
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
        if opened is not None:
            opened.close()
