"""What is wrong with a path as text: invisible characters, a Windows path.

Windows Explorer's "Copy as path", chat apps and word processors put characters nobody
sees in front of or inside a pasted path: U+202A (LEFT-TO-RIGHT EMBEDDING) before
``C:\\...``, zero-width spaces, a BOM. The OS then answers "Invalid argument" or "No such
file" for a path that looks right. Python shows them escaped in an exception message
(``'\\u202aC:/x'``), so both the raw character and its escape are recognised.

Pure text; the preflight checks, the traceback anatomy and the rules' fixes share it.
"""

from __future__ import annotations

import re
import unicodedata

# zero-width, bidirectional controls and the BOM: format characters (category Cf) that
# have no business in a file name
INVISIBLE: dict[str, str] = {
    "\u200b": "ZERO WIDTH SPACE",
    "\u200c": "ZERO WIDTH NON-JOINER",
    "\u200d": "ZERO WIDTH JOINER",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2060": "WORD JOINER",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE (BOM)",
}
# Python's repr of the same characters inside an exception message
_ESCAPED = re.compile(r"\\u(200[b-f]|202[a-e]|206[0-9]|2060|feff)", re.I)
_WINDOWS = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\[^\\])")


def invisible_characters(text: str) -> list[tuple[str, str]]:
    """The invisible characters in ``text`` (raw or ``\\uXXXX``-escaped), in order, each
    once, with their Unicode names."""
    out: list[tuple[str, str]] = []
    for ch in text:
        if (ch in INVISIBLE or unicodedata.category(ch) == "Cf") and ch not in (c for c, _ in out):
            out.append((ch, INVISIBLE.get(ch) or unicodedata.name(ch, f"U+{ord(ch):04X}")))
    for m in _ESCAPED.finditer(text):
        ch = chr(int(m.group(1), 16))
        if ch not in (c for c, _ in out):
            out.append((ch, INVISIBLE.get(ch) or unicodedata.name(ch, f"U+{ord(ch):04X}")))
    return out


def clean_path(text: str) -> str:
    """``text`` without its invisible characters (raw or escaped) and outer spaces."""
    out = _ESCAPED.sub("", text)
    out = "".join(ch for ch in out if ch not in INVISIBLE and unicodedata.category(ch) != "Cf")
    return out.strip()


def describe(text: str) -> str:
    """``"U+202A LEFT-TO-RIGHT EMBEDDING at 0"`` for each invisible character (raw ones
    with their position)."""
    parts: list[str] = []
    for i, ch in enumerate(text):
        if ch in INVISIBLE or unicodedata.category(ch) == "Cf":
            parts.append(f"U+{ord(ch):04X} {INVISIBLE.get(ch) or unicodedata.name(ch, '')} at {i}")
    for m in _ESCAPED.finditer(text):
        ch = chr(int(m.group(1), 16))
        parts.append(f"U+{ord(ch):04X} {INVISIBLE.get(ch, '')} (written \\u{m.group(1)})".strip())
    return ", ".join(parts)


def looks_windows(text: str) -> bool:
    """A drive-letter (``C:\\``, ``D:/``) or UNC (``\\\\server``) path, invisible
    characters aside."""
    return bool(_WINDOWS.match(clean_path(text)))
