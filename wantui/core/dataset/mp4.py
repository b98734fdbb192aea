"""Frame count of an MP4/MOV file from its atoms, in pure Python.

Only the ``moov`` box is read (top-level boxes are skipped with seeks, so a 2 GB ``mdat``
costs nothing). The video track is the one whose ``hdlr`` says ``vide``; its frame count
is the sample count of ``stsz`` (or the sum of ``stts`` entries).
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from typing import BinaryIO

MP4_EXTENSIONS = (".mp4", ".mov", ".m4v")
_MAX_MOOV = 64 * 1024 * 1024  # a moov box larger than this is not a clip we can read cheaply


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """Yield (type, payload_start, payload_end) for the boxes in data[start:end]."""
    end = len(data) if end is None else end
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        header = 8
        if size == 1:
            if i + 16 > end:
                return
            size = struct.unpack(">Q", data[i + 8 : i + 16])[0]
            header = 16
        elif size == 0:
            size = end - i
        if size < header or i + size > end:
            return
        yield kind, i + header, i + size
        i += size


def _open_regular(path: str | os.PathLike[str]) -> BinaryIO | None:
    """The file open for reading, or None when it cannot be opened or is not a regular
    file. O_NONBLOCK: a FIFO named clip.mp4 must not hang the scan (open() would wait for
    a writer); anything but a regular file has no boxes to read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return os.fdopen(fd, "rb")
    except OSError:
        pass
    os.close(fd)
    return None


def _top_boxes(
    f: BinaryIO, file_size: int, limit: int | None = None
) -> Iterator[tuple[bytes, int, int, int]]:
    """Yield (type, position, header length, size) of the file's top-level boxes, reading
    only their headers; stops at the end, at a broken header, or after ``limit`` boxes."""
    pos = 0
    seen = 0
    while pos + 8 <= file_size and (limit is None or seen < limit):
        seen += 1
        f.seek(pos)
        head = f.read(16)
        if len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1:
            if len(head) < 16:
                return
            size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif size == 0:
            size = file_size - pos
        if size < header:
            return
        yield kind, pos, header, size
        pos += size


def _read_moov(f: BinaryIO, file_size: int) -> bytes | None:
    for kind, pos, header, size in _top_boxes(f, file_size):
        if kind == b"moov":
            if size > _MAX_MOOV:
                return None
            f.seek(pos + header)
            return f.read(size - header)
    return None


def _track_frames(moov: bytes, t0: int, t1: int) -> int | None:
    mdia = next(((a, b) for k, a, b in _boxes(moov, t0, t1) if k == b"mdia"), None)
    if mdia is None:
        return None
    handler = None
    stbl = None
    for k, a, b in _boxes(moov, *mdia):
        if k == b"hdlr" and b - a >= 12:
            handler = moov[a + 8 : a + 12]
        elif k == b"minf":
            for k2, a2, b2 in _boxes(moov, a, b):
                if k2 == b"stbl":
                    stbl = (a2, b2)
    if handler != b"vide" or stbl is None:
        return None
    stts_total = None
    for k, a, b in _boxes(moov, *stbl):
        if k == b"stsz" and b - a >= 12:
            sample_size, count = struct.unpack(">II", moov[a + 4 : a + 12])
            if count:
                return count
        elif k == b"stts" and b - a >= 8:
            (entries,) = struct.unpack(">I", moov[a + 4 : a + 8])
            total = 0
            for e in range(min(entries, (b - a - 8) // 8)):
                n, _delta = struct.unpack(">II", moov[a + 8 + 8 * e : a + 16 + 8 * e])
                total += n
            stts_total = total
    return stts_total


def mp4_frame_count(path: str | os.PathLike[str]) -> int | None:
    """The number of video frames, or None when unknown (not MP4, fragmented, damaged)."""
    f = _open_regular(path)
    if f is None:
        return None
    try:
        with f:
            moov = _read_moov(f, os.fstat(f.fileno()).st_size)
    except OSError:
        return None
    if not moov:
        return None
    try:
        for kind, a, b in _boxes(moov):
            if kind == b"trak":
                frames = _track_frames(moov, a, b)
                if frames:
                    return frames
    except struct.error:
        return None
    return None


def write_test_mp4(path: str | os.PathLike[str], frames: int, *, mdat_bytes: int = 16) -> None:
    """Write a minimal MP4 skeleton with ``frames`` video samples (for tests and benches)."""

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(payload), kind) + payload

    hdlr = box(b"hdlr", b"\0\0\0\0" + b"\0\0\0\0" + b"vide" + b"\0" * 12 + b"VideoHandler\0")
    stts = box(b"stts", b"\0\0\0\0" + struct.pack(">III", 1, frames, 512))
    stsz = box(b"stsz", b"\0\0\0\0" + struct.pack(">II", 0, frames) + struct.pack(">I", 1) * frames)
    stbl = box(b"stbl", stts + stsz)
    minf = box(b"minf", stbl)
    mdia = box(b"mdia", hdlr + minf)
    trak = box(b"trak", box(b"tkhd", b"\0" * 84) + mdia)
    moov = box(b"moov", box(b"mvhd", b"\0" * 100) + trak)
    ftyp = box(b"ftyp", b"isom\0\0\2\0isomiso2mp41")
    mdat = box(b"mdat", b"\0" * mdat_bytes)
    with open(path, "wb") as f:
        f.write(ftyp + mdat + moov)


def has_moov(path: str | os.PathLike[str], limit: int = 10_000) -> bool:
    """Does the file hold a complete ``moov`` box among its top-level boxes? (A copy cut
    short keeps its ``ftyp`` but loses the ``moov`` written at the end, or the end of it.)
    Only box headers are read (at most ``limit`` of them)."""
    f = _open_regular(path)
    if f is None:
        return False
    try:
        with f:
            file_size = os.fstat(f.fileno()).st_size
            for kind, pos, _header, size in _top_boxes(f, file_size, limit):
                if kind == b"moov":
                    return pos + size <= file_size
    except (OSError, struct.error):
        return False
    return False
