"""Outside text made safe to draw, in the app as in the CLI.

Textual writes a widget's text to the terminal as it is: an ESC, a C1 control or a bidi
override in a log line, a file name, a finding's capture or a project name would reach
the terminal (an OSC 52 clipboard write, a CSI that repaints the screen). Everything the
app shows from outside goes through :func:`safe` (text and Rich ``Text``, styles kept),
which applies the CLI's one sanitiser, :func:`wantui.core.textsafe.printable`.
:class:`SafeStatic` does it for every ``Static`` the app fills; the log pane sanitises
its rendered segments; notifications and titles are sanitised in the app and screens.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.text import Span, Text
from textual.widgets import Static

from wantui.core.textsafe import printable


def safe_str(text: str) -> str:
    """A plain string, newlines kept (a message may have several lines)."""
    return printable(text, newlines=True)


def safe_text(text: Text) -> Text:
    """A Rich ``Text`` with its controls shown as escapes, each styled piece keeping its
    style (the text is cut at every span boundary, so no span straddles a change)."""
    plain = text.plain
    if plain == safe_str(plain):
        return text
    cuts = sorted({i for s in text.spans for i in (s.start, s.end) if 0 < i < len(plain)})
    out = Text(style=text.style, justify=text.justify, no_wrap=text.no_wrap, end=text.end)
    for piece in text.divide(cuts):
        fixed = safe_str(piece.plain)
        styles = [s.style for s in piece.spans if s.start < s.end]
        out.append_text(Text(fixed, spans=[Span(0, len(fixed), st) for st in styles]))
    return out


def safe(content: Any) -> Any:
    """``content`` for a widget: a str or ``Text`` sanitised; other renderables (our own
    tables, bars) as they are."""
    if isinstance(content, str):
        return safe_str(content)
    if isinstance(content, Text):
        return safe_text(content)
    return content


def safe_segments(segments: list[Segment]) -> list[Segment]:
    """Rendered segments (the log pane's ANSI-decoded lines) sanitised, and without the
    hyperlinks an OSC 8 in a log would have made (a link the log chose is not shown)."""
    out = []
    for seg in segments:
        style = seg.style
        if style is not None and style.link:
            style = style.update_link(None)
        out.append(Segment(safe_str(seg.text), style, seg.control))
    return out


class SafeStatic(Static):
    """A ``Static`` whose content, at creation and on every update, goes through
    :func:`safe`. Our own markup strings stay markup (brackets are not controls)."""

    def __init__(self, content: Any = "", **kw: Any) -> None:
        super().__init__(safe(content), **kw)

    def update(self, content: Any = "", *, layout: bool = True) -> None:
        super().update(safe(content), layout=layout)
