"""Is a text file UTF-8, and if not, which encoding does it look like?

musubi-tuner reads captions, prompt files, JSONL and the dataset TOML as UTF-8; a file
saved by Notepad, an old captioning tool or a Japanese/Chinese Windows in its locale
codec fails with ``UnicodeDecodeError: 'utf-8' codec can't decode byte 0x..``. The guess
is a strict decode in a short list of likely codecs, in order, so a pure-ASCII or UTF-8
file is never mislabelled; it names what the bytes are consistent with, no more.
"""

from __future__ import annotations

from pathlib import Path

# tried in order: the UTF-16 BOMs first, then the East-Asian multibyte codecs (strict, so
# random Western bytes rarely pass), then Windows-1252 (accepts nearly anything)
_CANDIDATES = ("shift_jis", "gbk", "big5", "euc-kr", "cp1252")
MAX_BYTES = 1 << 20


def guess_encoding(raw: bytes) -> str | None:
    """``None`` when ``raw`` is valid UTF-8 (BOM or not); else the first codec it decodes
    in (``utf-16`` for a BOM'd UTF-16 file), or ``"unknown"``."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        raw.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3 and len(raw) >= MAX_BYTES:
            return None  # cut inside a character by the read limit
    for codec in _CANDIDATES:
        try:
            raw.decode(codec)
        except UnicodeDecodeError:
            continue
        return codec
    return "unknown"


def file_encoding(path: Path) -> str | None:
    """:func:`guess_encoding` of the file's first MiB; ``None`` when unreadable too (a
    missing file is another check's finding)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES)
    except OSError:
        return None
    return guess_encoding(raw)
