"""Line and column of every key, table header and basic string in a TOML source.

tomlkit keeps comments but not positions, so this is a small scanner over the raw text:
it follows table headers (``[general]``, the N-th ``[[datasets]]``), key lines (bare,
quoted and dotted keys), strings of the four kinds (so ``#`` or ``=`` inside a string are
not mistaken for syntax), comments and brackets that span lines. Keys inside inline
tables are recorded too (``datasets = [{video_directory = "v"}]``). It never raises:
on text it does not understand it records less.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class Pos:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class BasicString:
    """A double-quoted, single-line TOML string as written (escapes not decoded)."""

    table: str
    key: str | None
    raw: str  # between the quotes
    pos: Pos  # of the opening quote


@dataclass
class SourceMap:
    keys: dict[tuple[str, str], Pos] = field(default_factory=dict)  # (table, key) -> key position
    values: dict[tuple[str, str], Pos] = field(
        default_factory=dict
    )  # (table, key) -> value position
    headers: dict[str, Pos] = field(default_factory=dict)  # table -> header position
    strings: list[BasicString] = field(default_factory=list)

    def key(self, table: str, key: str) -> Pos | None:
        return self.keys.get((table, key))

    def value(self, table: str, key: str) -> Pos | None:
        return self.values.get((table, key)) or self.keys.get((table, key))

    def table(self, table: str) -> Pos | None:
        return self.headers.get(table)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.col = 1
        self.map = SourceMap()
        self.table = ""
        self.datasets = -1

    # -- low level ---------------------------------------------------------------------
    def peek(self, n: int = 0) -> str:
        j = self.i + n
        return self.text[j] if j < len(self.text) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i >= len(self.text):
                return
            if self.text[self.i] == "\n":
                self.line += 1
                self.col = 1
            else:
                self.col += 1
            self.i += 1

    def pos(self) -> Pos:
        return Pos(self.line, self.col)

    def skip_ws(self, newlines: bool = False) -> None:
        while self.peek() in (" ", "\t", "\r") or (newlines and self.peek() == "\n"):
            self.advance()

    def skip_comment(self) -> None:
        while self.peek() not in ("\n", ""):
            self.advance()

    def skip_line(self) -> None:
        self.skip_comment()
        self.advance()

    # -- strings -----------------------------------------------------------------------
    def string(self, key: str | None) -> str:
        """Consume a string at the cursor; return its raw text."""
        start = self.pos()
        q = self.peek()
        if self.text.startswith(q * 3, self.i):
            self.advance(3)
            begin = self.i
            while self.i < len(self.text) and not self.text.startswith(q * 3, self.i):
                if q == '"' and self.peek() == "\\":
                    self.advance()
                self.advance()
            raw = self.text[begin : self.i]
            self.advance(3)
            while self.peek() == q:  # up to two quotes may close a multi-line string
                self.advance()
            return raw
        self.advance()
        begin = self.i
        while self.peek() not in (q, "\n", ""):
            if q == '"' and self.peek() == "\\":
                self.advance()
            self.advance()
        raw = self.text[begin : self.i]
        if self.peek() == q:
            self.advance()
        if q == '"' and key is not None:  # key names are not values
            self.map.strings.append(BasicString(self.table, key, raw, start))
        return raw

    # -- keys and values ---------------------------------------------------------------
    def key_path(self) -> list[str]:
        parts: list[str] = []
        while True:
            self.skip_ws()
            c = self.peek()
            if c in ('"', "'"):
                parts.append(self.string(None))
            elif c in _BARE and c:
                begin = self.i
                while self.peek() in _BARE and self.peek():
                    self.advance()
                parts.append(self.text[begin : self.i])
            else:
                return parts
            self.skip_ws()
            if self.peek() != ".":
                return parts
            self.advance()

    def value(self, table: str, key: str | None) -> None:
        """Consume one value (arrays and inline tables may span lines)."""
        self.skip_ws()
        c = self.peek()
        if c in ('"', "'"):
            self.string(key)
        elif c == "[":
            self.advance()
            while True:
                self.skip_ws(newlines=True)
                if self.peek() == "#":
                    self.skip_comment()
                    continue
                if self.peek() in ("]", ""):
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                before = self.i
                self.value(table, key)
                if self.i == before:
                    self.advance()
        elif c == "{":
            self.advance()
            inner = table if table else key or ""
            # an inline table inside ``datasets = [...]`` is one more dataset entry
            if key == "datasets" and table == "":
                self.datasets += 1
                inner = f"datasets[{self.datasets}]"
                self.map.headers.setdefault(inner, self.pos())
            while True:
                self.skip_ws()
                if self.peek() in ("}", "\n", ""):
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                kpos = self.pos()
                parts = self.key_path()
                if not parts:
                    self.advance()
                    continue
                self.skip_ws()
                if self.peek() == "=":
                    self.advance()
                    self.skip_ws()
                    self.map.keys.setdefault((inner, parts[0]), kpos)
                    self.map.values.setdefault((inner, parts[0]), self.pos())
                    self.value(inner, parts[0])
        else:
            while self.peek() not in (",", "]", "}", "\n", "#", ""):
                self.advance()

    def header(self) -> None:
        hpos = self.pos()
        double = self.text.startswith("[[", self.i)
        self.advance(2 if double else 1)
        parts = self.key_path()
        name = ".".join(parts)
        if double and name == "datasets":
            self.datasets += 1
            self.table = f"datasets[{self.datasets}]"
        elif double:
            self.table = name
        elif len(parts) >= 2 and parts[0] == "datasets" and self.datasets >= 0:
            # [datasets.sub] after [[datasets]]: a sub-table of the last entry
            self.table = f"datasets[{self.datasets}].{'.'.join(parts[1:])}"
        else:
            self.table = name
        self.map.headers.setdefault(self.table, hpos)
        self.skip_line()

    def run(self) -> SourceMap:
        while self.i < len(self.text):
            self.skip_ws(newlines=True)
            c = self.peek()
            if c == "":
                break
            if c == "#":
                self.skip_line()
            elif c == "[":
                self.header()
            else:
                kpos = self.pos()
                parts = self.key_path()
                self.skip_ws()
                if not parts or self.peek() != "=":
                    self.skip_line()
                    continue
                self.advance()
                self.skip_ws()
                self.map.keys.setdefault((self.table, parts[0]), kpos)
                self.map.values.setdefault((self.table, parts[0]), self.pos())
                self.value(self.table, parts[0])
                self.skip_line()
        return self.map


def scan_positions(text: str) -> SourceMap:
    """Positions of the keys, headers and basic strings of ``text``. Never raises."""
    try:
        return _Scanner(text).run()
    except Exception:  # a position map is a nicety: never let it break a check
        return SourceMap()
