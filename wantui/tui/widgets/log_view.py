"""A log pane that stays cheap at any output rate.

Lines are kept raw (ANSI colours included) in a bounded deque and only the visible rows
are turned into Rich text, on demand, with a small cache. Appending a batch of lines is
O(batch); drawing is O(height). Search (``/``) highlights the matching line.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from wantui.tui.safe import safe_segments

_MATCH = Style(bgcolor="yellow", color="black")
_CACHE = 512
_MAX_WIDTH = 2000


class LogView(ScrollView, can_focus=True):
    """Bounded, ANSI-aware, virtual log view with search."""

    DEFAULT_CSS = "LogView { background: $surface; }"

    def __init__(
        self,
        *,
        max_lines: int = 5000,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.max_lines = max_lines
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._first = 0  # absolute number of the first kept line
        self._width = 0
        self._cache: OrderedDict[int, Strip] = OrderedDict()
        self.match: int | None = None  # absolute index of the search match
        self.dropped = 0
        self.partial = ""  # the line still being redrawn with \r, shown last

    # -- data ---------------------------------------------------------------------------
    @property
    def line_count(self) -> int:
        return len(self._lines)

    def lines(self) -> list[str]:
        return list(self._lines)

    def set_partial(self, text: str) -> None:
        follow = self.scroll_offset.y >= self.max_scroll_y - 1
        grew = not self.partial and text
        self.partial = text
        self._cache.pop(-1, None)
        self._resize()
        if follow and grew:
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)
        self.refresh()

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, len(self._lines) + (1 if self.partial else 0))

    def write_lines(self, lines: list[str], dropped: int = 0) -> None:
        if not lines and not dropped:
            return
        if lines:
            self.partial = ""  # a newline ended the line that was being redrawn
            self._cache.pop(-1, None)
        follow = self.scroll_offset.y >= self.max_scroll_y - 1
        overflow = max(0, len(self._lines) + len(lines) - self.max_lines) + dropped
        self._first += overflow
        self.dropped += dropped
        self._lines.extend(lines)
        for line in lines[-200:]:  # widths of a few recent lines are enough for a scrollbar
            if len(line) > self._width:
                self._width = min(len(line), _MAX_WIDTH)
        if overflow:
            self._cache.clear()  # row -> line mapping moved
        self._resize()
        if follow:
            # after the new virtual size is applied, or the end is the old end
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)
        self.refresh()

    def update_lines(self, updates: dict[int, str]) -> None:
        """Rewrite lines already shown (absolute index -> text); gone ones are skipped."""
        for absolute, text in updates.items():
            row = absolute - self._first
            if 0 <= row < len(self._lines):
                self._lines[row] = text
                self._cache.pop(absolute, None)
        self.refresh()

    def clear(self) -> None:
        self._lines.clear()
        self._cache.clear()
        self._first, self._width, self.match, self.dropped = 0, 0, None, 0
        self.partial = ""
        self.virtual_size = Size(0, 0)
        self.refresh()

    # -- search -------------------------------------------------------------------------
    def search(self, needle: str, *, backwards: bool = True) -> bool:
        """Find the next line containing ``needle`` (case-insensitive) before (or after)
        the current match; scroll to it. Returns False when there is none."""
        if not needle:
            return False
        needle = needle.lower()
        n = len(self._lines)
        cur = (self.match - self._first) if self.match is not None else (n if backwards else -1)
        order = range(cur - 1, -1, -1) if backwards else range(cur + 1, n)
        for i in order:
            if needle in Text.from_ansi(self._lines[i]).plain.lower():
                self._set_match(self._first + i)
                self.scroll_to(y=max(0, i - self.size.height // 2), animate=False, immediate=True)
                return True
        return False

    def _set_match(self, absolute: int | None) -> None:
        for idx in (self.match, absolute):
            if idx is not None:
                self._cache.pop(idx, None)
        self.match = absolute
        self.refresh()

    # -- drawing ------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        if row >= len(self._lines):
            if row == len(self._lines) and self.partial:
                return self._strip(-1, self.partial).crop_extend(
                    scroll_x, scroll_x + width, self.rich_style
                )
            return Strip.blank(width, self.rich_style)
        return self._strip(self._first + row, self._lines[row]).crop_extend(
            scroll_x, scroll_x + width, self.rich_style
        )

    def _strip(self, absolute: int, raw: str) -> Strip:
        strip = self._cache.get(absolute)
        if strip is None:
            text = Text.from_ansi(raw, no_wrap=True, end="")
            if absolute == self.match:
                text.stylize(_MATCH)
            segments = [s for s in text.render(self.app.console) if s.text != "\n"]
            # what from_ansi left of other escapes (an OSC ended by BEL, C1, bidi) is shown
            # as text, never sent to the terminal
            segments = safe_segments(segments)
            strip = Strip(Segment.apply_style(segments, self.rich_style))
            self._cache[absolute] = strip
            if len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return strip
