"""The matcher's prefilter engine: which lines of a block hold one of a set of literals.

Every rule names literals one of which each of its matches must contain
(:func:`wantui.core.rules.regexcheck.required_literals`); a line holding none of them
cannot match, so the normaliser decodes only the lines this scanner finds. The engine
is RE2 (google-re2, a maintained library with wheels for Linux, macOS and Windows): all
literals are one alternation that RE2 runs as a DFA over raw bytes, linear in the
block's length whatever it holds, several hundred MB/s. Per line, a :class:`LiteralSet`
(``re2.Set``) says which rule patterns' literals a line holds, so Python's ``re`` (which
gives the capture groups) runs only for those patterns.

Where Hyperscan (python-hyperscan, wheels for x86_64 Linux, macOS and Windows) is
installed too, it finds the block's lines instead: a literal matcher at 1.5-2.5 GB/s,
about three times RE2's DFA. RE2 stays for single lines and takes a block holding a NUL
or one scanned while another thread holds Hyperscan's scratch space; both find the same
lines (tests/test_literalscan.py).

Where google-re2 cannot be imported (no wheel for the platform), each literal is looked
for with ``bytes.find`` over the whole block (C's two-way search; an alternation of a few
hundred literals in Python's ``re`` is tried at every byte and is ~2x slower), only the
lines it finds are looked at, and the per-pattern check is substring tests: the same
lines and the same findings, slower (tests/test_literalscan.py).
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from collections.abc import Iterable
from typing import Any

# Bytes to clean before literals are looked for: ANSI escapes and controls (not \t, \n,
# \r: a \r ends a tqdm segment, and no literal spans one). An escape can split a literal.
_DIRTY = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_ANSI_BYTES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n\r]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]"
)
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")
_DIRTY_CLASS = rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_DIRTY_RX = re.compile(_DIRTY_CLASS)
_RE2_MEM = 32 << 20  # RE2's budget for its compiled program and DFA cache


def is_dirty(data: bytes) -> bool:
    # translate() runs at GB/s; a regex character class scan is ~5x slower
    return len(data.translate(None, _DIRTY)) != len(data)


def clean_bytes(data: bytes) -> bytes:
    """``data`` without ANSI escapes and control bytes (newlines and ``\\r`` kept), the
    byte-level twin of what ``normalize_line`` removes from a line's text."""
    return _CONTROL_BYTES.sub(b"", _ANSI_BYTES.sub(b"", data))


def _optional(name: str, *switches: str) -> Any | None:
    """The module ``name``, or None where it is not installed or one of the environment
    ``switches`` is ``0``."""
    if any(os.environ.get(v, "1") == "0" for v in switches):
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def hyperscan_module() -> Any | None:
    """python-hyperscan's module, or None where it is not installed, or where
    ``WANTUI_HYPERSCAN=0`` (RE2 scans the blocks) or ``WANTUI_RE2=0`` (the plain-Python
    fallback) says not to use it."""
    return _optional("hyperscan", "WANTUI_HYPERSCAN", "WANTUI_RE2")


def _hyperscan_db(hs: Any, plain: list[bytes], folded: list[bytes]) -> Any | None:
    """A block-mode database of the literals and of each control byte (a line holding
    one is decided on its cleaned text, as RE2's scan does), or None when this
    Hyperscan cannot build one (an old release, a CPU it does not support). Not NUL:
    the binding takes expressions as C strings; a block with a NUL goes to RE2."""
    if any(b"\0" in x for x in (*plain, *folded)):
        return None
    controls = [bytes([b]) for b in _DIRTY if b]
    exprs = [*plain, *folded, *controls]
    flags = [0] * len(plain) + [hs.HS_FLAG_CASELESS] * len(folded) + [0] * len(controls)
    try:
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        db.compile(
            expressions=exprs,
            ids=list(range(len(exprs))),
            elements=len(exprs),
            flags=flags,
            literal=True,
        )
        db.scan(memoryview(b"x\n")[1:], match_event_handler=lambda *a: False)  # 0.9+
    except Exception:  # noqa: BLE001 - any failure leaves the blocks to RE2
        return None
    return db


def re2_module() -> Any | None:
    """google-re2's module, or None where it is not installed (or ``WANTUI_RE2=0``, which
    forces the plain-Python fallback: tests and comparisons)."""
    return _optional("re2", "WANTUI_RE2")


def _escape(lit: bytes) -> bytes:
    # every byte but ASCII letters and digits as \xHH: the same literal in RE2 (Latin-1
    # mode: one byte, one character) and in Python's bytes ``re``
    return b"".join(
        bytes([b]) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122) else b"\\x%02x" % b
        for b in lit
    )


def trie_pattern(words: Iterable[bytes]) -> bytes:
    """A regex matching any of ``words``, factored as a trie so that a backtracking
    engine tries few alternatives per position (a flat alternation of ~200 literals is
    ~7x slower in ``re``). A word that is a prefix of another ends its branch."""
    root: dict = {}
    for w in set(words):
        node = root
        for b in w:
            node = node.setdefault(b, {})
        node[None] = {}

    def emit(node: dict) -> bytes:
        if None in node:
            return b""
        alts = [_escape(bytes([k])) + emit(node[k]) for k in sorted(node)]
        return alts[0] if len(alts) == 1 else b"(?:" + b"|".join(alts) + b")"

    return emit(root) if root else b"(?!)"


def flat_pattern(words: Iterable[bytes]) -> bytes:
    """A regex matching any of ``words`` as one flat alternation: for RE2, which factors
    common prefixes itself and runs a DFA whatever the shape (building the trie in Python
    took most of a matcher's start)."""
    return b"|".join(_escape(w) for w in sorted(set(words)))


def alternation(plain: Iterable[bytes], folded: Iterable[bytes], *, trie: bool = True) -> bytes:
    """One pattern for ``plain`` literals and ``folded`` ones (ASCII, any case); ``trie``:
    factored for Python's backtracking ``re`` (False: flat, for RE2)."""
    plain, folded = list(plain), list(folded)
    shape = trie_pattern if trie else flat_pattern
    parts = [shape(plain)] if plain else []
    if folded:
        parts.append(b"(?i:" + shape(x.lower() for x in folded) + b")")
    return b"|".join(parts) if parts else b"(?!)"  # (never used with RE2: no lookahead)


def fewest_literals(
    plain: Iterable[bytes], folded: Iterable[bytes]
) -> tuple[list[bytes], list[bytes]]:
    """The literals a line must be searched for: one holding another is dropped (a line
    with it holds the other too); ``folded`` ones are lower case (ASCII, any case)."""
    fold: list[bytes] = []
    for f in sorted({x.lower() for x in folded}, key=len):
        if not any(g in f for g in fold):
            fold.append(f)
    kept: list[bytes] = []
    for p in sorted(set(plain), key=len):
        if not any(q in p for q in kept) and not any(f in p.lower() for f in fold):
            kept.append(p)
    return kept, fold


def _re2_options(re2: Any) -> Any:
    opts = re2.Options()
    opts.encoding = opts.Encoding.LATIN1  # bytes are bytes: a literal may be cp1252
    opts.log_errors = False
    opts.max_mem = _RE2_MEM
    return opts


class LiteralScan:
    """Finds the lines of a block that contain one of ``plain`` (exact bytes) or
    ``folded`` (ASCII literals, any case). Lines with ANSI escapes or control bytes are
    looked at cleaned (:func:`clean_bytes`); line indexes and the returned raw lines are
    the block's own. ``engine`` is ``"hyperscan"`` (blocks by Hyperscan, lines by RE2),
    ``"re2"`` or ``"re"`` (the fallback)."""

    def __init__(self, plain: Iterable[bytes], folded: Iterable[bytes] = ()) -> None:
        self.plain = sorted({x for x in plain if x})
        self.folded = sorted({x.lower() for x in folded if x})
        re2 = re2_module()
        self.engine = "re"
        self._rx: Any = None
        if re2 is not None and (self.plain or self.folded):
            pattern = alternation(self.plain, self.folded, trie=False)
            try:
                opts = _re2_options(re2)
                self._rx = re2.compile(pattern, opts)
                # the scan also stops at control bytes: such a line is decided cleaned
                self._scan = re2.compile(pattern + b"|" + _DIRTY_CLASS, opts)
                self.engine = "re2"
            except re2.error:  # pragma: no cover - escaped literals always compile
                self._rx = None
        self._hs: Any = None
        hs = hyperscan_module() if self.engine == "re2" else None
        if hs is not None:
            self._hs = _hyperscan_db(hs, self.plain, self.folded)
            if self._hs is not None:
                self.engine = "hyperscan"
                self._hs_stop = getattr(hs, "ScanTerminated", hs.error)
                # one scratch space per database: a second thread scanning at the same
                # time takes the RE2 path for that block instead of waiting
                self._hs_lock = threading.Lock()
        if self._rx is None:
            pattern = alternation(self.plain, self.folded)
            self._rx = re.compile(pattern)
            both = pattern + b"|" + _DIRTY_CLASS if (self.plain or self.folded) else _DIRTY_CLASS
            self._scan = re.compile(both)
            self._fewest = fewest_literals(self.plain, self.folded)

    def __repr__(self) -> str:
        return f"LiteralScan({len(self.plain)} + {len(self.folded)} literals, {self.engine})"

    def matches(self, line: bytes) -> bool:
        """Whether one line (or part of one) contains a literal."""
        if is_dirty(line):
            line = clean_bytes(line)
        return self._rx.search(line) is not None

    def lines(self, block: bytes) -> list[tuple[int, bytes]]:
        """(0-based line index, raw line without its newline) of every line of ``block``
        that contains a literal, in order; the last line may lack a newline."""
        if self.engine == "re" and (self.plain or self.folded):
            return self._lines_found(block)
        if self._hs is not None and b"\0" not in block and self._hs_lock.acquire(blocking=False):
            try:
                return self._lines_from(block, self._hs_first(block))
            finally:
                self._hs_lock.release()
        search = self._scan.search

        def first(pos: int) -> int | None:
            m = search(block, pos)
            return None if m is None else m.start()

        return self._lines_from(block, first)

    def _hs_first(self, block: bytes) -> Any:
        """``first(pos)``: where, at or after ``pos``, the first line holding a literal or
        a control byte has one, by Hyperscan. The first match to end lies inside the
        line of the leftmost match (no literal spans a newline): the same line RE2 finds."""
        view = memoryview(block)
        found: list[int] = []
        scan, stop = self._hs.scan, self._hs_stop

        def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> bool:
            found.append(end)
            return True  # stop at the first: the caller goes on from the next line

        def first(pos: int) -> int | None:
            found.clear()
            try:
                scan(view[pos:], match_event_handler=on_match)
            except stop:
                pass
            return pos + found[0] - 1 if found else None

        return first

    def _lines_from(self, block: bytes, first: Any) -> list[tuple[int, bytes]]:
        """The lines :meth:`lines` returns, given ``first(pos)``: an offset inside the
        first line at or after ``pos`` that holds a literal or a control byte."""
        out: list[tuple[int, bytes]] = []
        exact = self._rx.search
        find, rfind, count = block.find, block.rfind, block.count
        size = len(block)
        pos = 0  # always the start of a line not looked at yet
        index = 0  # that line's index
        while pos <= size:
            hit = first(pos)
            if hit is None:
                break
            nl = rfind(b"\n", pos, hit)
            start = pos if nl < 0 else nl + 1
            index += count(b"\n", pos, start)
            end = find(b"\n", hit)
            if end < 0:
                end = size
            line = block[start:end]
            if not is_dirty(line) or exact(clean_bytes(line)) is not None:
                out.append((index, line))
            index += 1
            pos = end + 1
        return out

    def _lines_found(self, block: bytes) -> list[tuple[int, bytes]]:
        """:meth:`lines` without RE2: each literal found with ``bytes.find`` (folded ones
        in the block's lower-case copy: ASCII, the same offsets), and each line with a
        control byte decided on its cleaned text, as the RE2 scan does."""
        find, rfind = block.find, block.rfind
        starts: set[int] = set()  # offsets of the lines found
        plain, folded = self._fewest
        for hay, lits in ((block, plain), (block.lower() if folded else b"", folded)):
            hfind = hay.find
            for lit in lits:
                i = hfind(lit)
                while i >= 0:
                    starts.add(rfind(b"\n", 0, i) + 1)
                    end = find(b"\n", i)
                    if end < 0:
                        break
                    i = hfind(lit, end + 1)  # the next line
        dirty: set[int] = set()
        if is_dirty(block):
            pos = 0
            for m in _DIRTY_RX.finditer(block):
                if m.start() < pos:
                    continue
                dirty.add(rfind(b"\n", 0, m.start()) + 1)
                end = find(b"\n", m.start())
                pos = len(block) + 1 if end < 0 else end + 1
        out: list[tuple[int, bytes]] = []
        exact, count, size = self._rx.search, block.count, len(block)
        index = prev = 0
        for start in sorted(starts | dirty):
            index += count(b"\n", prev, start)
            prev = start
            end = find(b"\n", start)
            line = block[start : size if end < 0 else end]
            if start in dirty and exact(clean_bytes(line)) is None:
                continue  # a literal only with the escapes left in, or none at all
            out.append((index, line))
        return out


class LiteralSet:
    """Which of several literal groups a line of text holds: ``groups[i]`` is
    (literals, any case?). RE2's ``Set`` answers for all groups in one pass; the fallback
    tests substrings group by group. Only ASCII text goes to the Set (below, Python's
    ``str.lower`` and RE2's case folding agree exactly); other text takes the fallback."""

    def __init__(self, groups: list[tuple[tuple[str, ...], bool]]) -> None:
        self._groups = [
            (tuple(x.lower() for x in lits) if icase else lits, icase) for lits, icase in groups
        ]
        self._set: Any = None
        re2 = re2_module()
        if re2 is None:
            return
        try:
            s = re2.Set.SearchSet(_re2_options(re2))
            self._index: list[int] = []  # the Set's pattern number -> group number
            for i, (lits, icase) in enumerate(self._groups):
                if not lits:
                    continue
                enc = [x.encode("utf-8") for x in lits]
                s.Add(
                    alternation([], enc, trie=False) if icase else alternation(enc, [], trie=False)
                )
                self._index.append(i)
            s.Compile()
            self._set = s
        except re2.error:  # pragma: no cover - escaped literals always compile
            self._set = None

    def hits(self, text: str) -> list[int]:
        """The numbers of the groups that have a literal in ``text``, ascending."""
        if self._set is not None and text.isascii():
            found = self._set.Match(text.encode("ascii"))
            if not found:
                return []
            index = self._index
            return sorted(index[k] for k in found)
        lower: str | None = None
        out: list[int] = []
        for i, (lits, icase) in enumerate(self._groups):
            if icase:
                if lower is None:
                    lower = text.lower()
                hay = lower
            else:
                hay = text
            for lit in lits:
                if lit in hay:
                    out.append(i)
                    break
        return out
