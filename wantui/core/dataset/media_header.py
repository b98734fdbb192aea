"""Does a media file's header say it is what its extension claims?

musubi-tuner opens every video with PyAV (``av.open``, media_utils.py:154) and every image
with PIL (``Image.open``, datasources.py:223) only while caching, after the VAE has
loaded. A web page saved with a ``.mp4`` name (a download that got a login page), an
empty file or an MP4 cut short by an interrupted copy fails there. The first bytes (and,
for MP4/MOV, the box list) tell these apart without decoding anything.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from wantui.core.dataset.mp4 import MP4_EXTENSIONS, has_moov

_HEAD = 64
# magic -> container names; MP4/MOV are recognised by their first box
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x1a\x45\xdf\xa3", 0, "matroska"),  # .mkv .webm
    (b"RIFF", 0, "riff"),  # .avi .webp
    (b"GIF8", 0, "gif"),
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"BM", 0, "bmp"),
    (b"FLV", 0, "flv"),
    (b"\x00\x00\x01\xba", 0, "mpeg-ps"),
    (b"\x47", 0, "mpeg-ts"),
)
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid")
_TEXT_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"{", b"[")


def media_problem(path: Path) -> str | None:
    """Why ``path`` cannot be decoded as a media file, or None when its header looks
    right (or is not one wantui can judge)."""
    try:
        # O_NONBLOCK: a FIFO named clip.mp4 must not hang the scan; only regular files
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc.__class__.__name__})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        size = st.st_size
        head = os.read(fd, _HEAD)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc.__class__.__name__})"
    finally:
        os.close(fd)
    if size == 0:
        # left alone on purpose: placeholders of 0 bytes stand for clips in many test and
        # template projects; the dataset-empty/frame checks speak for them
        return None
    low = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if low.startswith(_TEXT_STARTS):
        kind = "JSON" if low[:1] in (b"{", b"[") else "an HTML/XML page"
        return f"is {kind}, not media (a download that saved a web page?)"
    ext = os.path.splitext(path.name)[1].lower()
    if ext in MP4_EXTENSIONS:
        if len(head) < 8 or head[4:8] not in _MP4_BOXES:
            found = next((name for magic, at, name in _MAGIC if head[at:].startswith(magic)), None)
            return f"is not an MP4/MOV ({found or 'unknown'} data)" if found != "mpeg-ts" else None
        if not has_moov(path):
            return "has no complete moov box (cut short by an interrupted copy or download?)"
    if ext in _IMAGE_EXTS:
        # PIL opens by content: a PNG named .jpg is fine, data of no image format is not
        if not any(head.startswith(m) for m in _IMAGE_MAGIC) and head[8:12] != b"WEBP":
            return f"is not image data of any format PIL reads (extension {ext})"
    return None


_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"GIF8", b"II*\x00", b"MM\x00*")
