"""Raw step output to display lines: ANSI colours kept, ``\\r`` redraws collapsed to
their last state, the line still being redrawn available as it is, memory bounded."""

from __future__ import annotations

from wantui.core.logtext import decode_line


class DisplayLines:
    """Splits raw bytes into display lines: ``\\n`` ends a line, ``\\r`` restarts it (the
    last non-empty state wins, as on a terminal). Bounded: an endless line is cut."""

    MAX = 4096

    def __init__(self) -> None:
        self._pending = b""
        # the last chunk's lines decoded as they are (ANSI and \r kept), when the chunk
        # was whole lines of valid UTF-8: what the diagnosis would decode again
        self.decoded: list[str] | None = None

    def feed(self, data: bytes) -> list[str]:
        whole = not self._pending and data.endswith(b"\n")
        self.decoded = None
        buf = self._pending + data
        cut = buf.rfind(b"\n")
        if cut < 0:
            self._pending = buf[-self.MAX * 4 :]
            return []
        body, self._pending = buf[:cut], buf[cut + 1 :][-self.MAX * 4 :]
        try:
            text = body.decode("utf-8")  # one C call for the whole chunk: the common case
        except UnicodeDecodeError:
            return [self._show(p) for p in body.split(b"\n")]
        lines = text.split("\n")
        if whole:
            self.decoded = lines
        if "\r" in text:
            lines = [self._collapse(x) if "\r" in x else x for x in lines]
        return [x if len(x) <= self.MAX else x[: self.MAX] for x in lines]

    @staticmethod
    def _collapse(line: str) -> str:
        segs = [s for s in line.split("\r") if s.strip()]
        return segs[-1].rstrip() if segs else ""

    def current_state(self) -> bytes | None:
        """The last complete ``\\r`` state of the unfinished line, if it is being redrawn."""
        if b"\r" not in self._pending:
            return None
        segs = [s for s in self._pending.split(b"\r") if s.strip()]
        return segs[-1][: self.MAX] if segs else None

    def close(self) -> list[str]:
        rest, self._pending = self._pending, b""
        return [self._show(rest)] if rest.strip() else []

    def _show(self, raw: bytes) -> str:
        if b"\r" in raw:
            segs = [s for s in raw.split(b"\r") if s.strip()]
            raw = segs[-1] if segs else b""
        return decode_line(raw[: self.MAX]).rstrip()
