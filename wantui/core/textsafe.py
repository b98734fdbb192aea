"""Text from outside, made safe to print on a terminal.

File names, captions, TOML values, rule texts and log lines are not wantui's: a video
named ``clip\\x1b]52;c;cm0gLXJmIH4=\\x07.mp4`` would, printed raw, write the user's
clipboard (OSC 52); a CSI sequence can move the cursor and repaint what was printed
above; ``\\r`` and the bidi overrides make a line read differently from what it says.
Every printer of the CLI passes such text through :func:`printable` (one place), which
shows each control character as a visible escape (``\\x1b``, ``\\x9b``, ``\\u202e``) so
an escape sequence arrives inert and the user still sees what the name holds. JSON
output stays exact: :func:`json_text` escapes what ``json`` leaves raw.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls but tab and newline, DEL, the C1 controls (0x80-0x9f: CSI 0x9b and OSC 0x9d
# start sequences by themselves on some terminals), the Unicode line and paragraph
# separators and the bidi controls (text that reads in another order than it is stored)
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
_UNSAFE_BUT_NEWLINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
# what json.dumps(ensure_ascii=False) leaves raw inside its strings
_JSON_RAW = re.compile(f"[\x7f-\x9f\u2028\u2029{_BIDI}]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, newlines: bool = False) -> str:
    """``text`` with every terminal control shown as an escape (``\\x1b``); tabs are
    kept, and newlines too when ``newlines`` (a multi-line message), else escaped (one
    file name must stay one line)."""
    pattern = _UNSAFE_BUT_NEWLINE if newlines else _UNSAFE
    return pattern.sub(_escape, text)


def json_text(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False, ...)`` with C1 controls and bidi characters
    written as ``\\u`` escapes too: the same data once parsed, inert on a terminal."""
    return _JSON_RAW.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(obj, ensure_ascii=False, **kwargs)
    )


class SafeWriter:
    """A text stream that passes everything written through :func:`printable` (newlines
    kept), for commands whose output is plain text put together from outside strings
    (``wantui fix``: labels, paths, the diff of a file). Not for rich's coloured output,
    whose own escapes it would show."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(printable(text, newlines=True))

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return bool(self.stream.isatty())
