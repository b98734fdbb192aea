"""Read tensor names, dtypes and shapes from model files without reading any weights.

Two formats: safetensors (8-byte little-endian header length, then a JSON header) and
PyTorch zip checkpoints (``torch.save``: a zip holding ``*/data.pkl``), read with a
restricted unpickler (see :mod:`wantui.core.models.pth`). Everything here costs the same
for a 100 MB file and a 28 GB one: only the header (or the pickle) is read, and declared
offsets are checked against the file's length instead of reading the data.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

# The safetensors library refuses headers above 100 MB (HeaderTooLarge); so do we.
MAX_HEADER_BYTES = 100_000_000

# bytes per element for safetensors dtype names
DTYPE_SIZES: dict[str, float] = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "F8_E4M3FNUZ": 1,
    "F8_E5M2FNUZ": 1,
    "F6_E2M3": 0.75,
    "F6_E3M2": 0.75,
    "F4": 0.5,
    "C64": 8,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
}


# names under which a file claims to be a model
MODEL_NAME_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt", ".gguf", ".sft")


class CorruptFile(Exception):
    """The file claims to be a model file but its header or sizes are inconsistent."""


class NotAModelFile(Exception):
    """The file is none of the formats we read (or one we only recognise)."""


class TensorMeta(NamedTuple):
    """One tensor as declared in a header: safetensors dtype name and shape.

    A NamedTuple rather than a dataclass: a 14B DiT header has 1300 of them and the
    whole inspection must stay far below 50 ms."""

    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class Header:
    """What a model file declares: tensors by name, free-form metadata, the format."""

    format: str  # "safetensors" | "pth"
    tensors: dict[str, TensorMeta]
    metadata: dict[str, str] = field(default_factory=dict)
    size: int = 0  # file size in bytes
    data_bytes: int = 0  # bytes the tensors declare
    duplicates: list[str] = field(default_factory=list)  # names the JSON header repeats
    nested: str = ""  # .pth: where the state dict sits ("state_dict/model"); "" = top level


def sniff(path: Path) -> str:
    """Guess the container from the first bytes: safetensors, pth-zip, pth-legacy, gguf,
    lfs-pointer, html, text, other. The last three are failed downloads (a model's name,
    something else's content), hence CorruptFile: re-downloading is the fix."""
    with open(path, "rb") as fh:
        head = fh.read(9)
        if head[:4] == b"PK\x03\x04":
            return "pth-zip"
        if head[:4] == b"GGUF":
            return "gguf"
        if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
            return "pth-legacy"
        if len(head) == 9 and head[8:9] == b"{":
            return "safetensors"
        head += fh.read(503)  # none of those: look closer at what else it is
    if head.startswith(b"version https://git-lfs.github.com/spec/"):
        return "lfs-pointer"
    low = head.lstrip().lower()
    if low.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        return "html"
    if head and _is_text(head):
        return "text"
    return "other"


def _is_text(head: bytes) -> bool:
    """Printable UTF-8 text (a JSON error body, a log, a README saved under a model name)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # the 512-byte window may cut a multibyte character in two
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


def _first_line(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(200)
    line = head.decode("utf-8", "replace").strip().splitlines()
    return line[0][:80] if line else ""


def _regular(p: Path) -> None:
    """Refuse what open() could block on (a FIFO) or read for ever (a device)."""
    if not stat.S_ISREG(os.stat(p).st_mode):
        raise NotAModelFile("not a regular file (a FIFO, a device or a socket)")


def read_safetensors_header(path: str | os.PathLike[str]) -> Header:
    """Parse and validate a safetensors header; raise CorruptFile with a reason."""
    p = Path(path)
    _regular(p)
    with open(p, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        first = fh.read(8)
        if len(first) < 8:
            raise CorruptFile(f"file is {size} bytes, too short for a safetensors header")
        n = int.from_bytes(first, "little")
        if n > MAX_HEADER_BYTES:
            raise CorruptFile(
                f"HeaderTooLarge: header declares {n} bytes (limit {MAX_HEADER_BYTES});"
                " not a safetensors file or a damaged one"
            )
        if 8 + n > size:
            raise CorruptFile(f"truncated: header declares {n} bytes but the file has {size} bytes")
        raw = fh.read(n)
    dups: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        # json keeps the last of repeated keys silently (so does the safetensors library);
        # remember them: a header that names a tensor twice was not written by safetensors
        d = dict(items)
        if len(d) != len(items):
            seen: set[str] = set()
            for k, _ in items:
                if k in seen and k not in dups:
                    dups.append(k)
                seen.add(k)
        return d

    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)
    except UnicodeDecodeError as exc:
        raise CorruptFile(f"header is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise CorruptFile(f"header is not valid JSON ({exc.msg} at byte {exc.pos})") from None
    except RecursionError:
        # a header of 100 000 nested brackets: the safetensors library says the same
        raise CorruptFile("header is not valid JSON (nested too deeply)") from None
    except ValueError:
        # json.loads of an integer of more than 4300 digits (int_max_str_digits)
        raise CorruptFile("header is not valid JSON (a number too long to read)") from None
    if not isinstance(obj, dict):
        raise CorruptFile("header is not a JSON object")
    meta_raw = obj.pop("__metadata__", None)
    if meta_raw is None:
        meta_raw = {}
    if not isinstance(meta_raw, dict) or not all(isinstance(v, str) for v in meta_raw.values()):
        # safetensors: "invalid type ..., expected a map" / "expected a string"
        raise CorruptFile("__metadata__ is not a map of strings to strings")
    metadata = {str(k): v for k, v in meta_raw.items()}
    data_len = size - 8 - n
    tensors: dict[str, TensorMeta] = {}
    spans: list[tuple[int, int, str]] = []
    end_max = 0
    for name, entry in obj.items():
        # a tight loop on purpose: this runs once per tensor (1300 for a 14B DiT)
        try:
            dtype = entry["dtype"]
            shape = entry["shape"]
            start, end = entry["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise CorruptFile(
                f"tensor {name!r}: entry lacks dtype, shape or data_offsets"
            ) from None
        if type(dtype) is not str or type(shape) is not list:
            raise CorruptFile(f"tensor {name!r}: bad dtype or shape")
        if type(start) is not int or type(end) is not int or not 0 <= start <= end:
            raise CorruptFile(f"tensor {name!r}: bad data_offsets {entry['data_offsets']!r}")
        numel = 1
        for d in shape:
            if type(d) is not int or d < 0:
                raise CorruptFile(f"tensor {name!r}: bad shape {shape!r}")
            numel *= d
        itemsize = DTYPE_SIZES.get(dtype)
        if itemsize is None:
            raise CorruptFile(
                f"tensor {name!r}: unknown dtype {dtype[:20]!r} (the safetensors library refuses it)"
            )
        # exact integers: F6/F4 are 0.75 and 0.5 bytes, and a float product of a hostile
        # shape overflows ("int too large to convert to float")
        num, den = itemsize.as_integer_ratio()
        need = numel * num // den
        if end - start != need:
            shown = str(need) if need < 10**30 else f"about 10^{len(str(need)) - 1}"
            raise CorruptFile(
                f"tensor {name!r}: declares {end - start} bytes for"
                f" shape {str(shape)[:120]} {dtype} ({shown} expected)"
            )
        if end > end_max:
            end_max = end
        spans.append((start, end, name))
        tensors[name] = TensorMeta(dtype, tuple(shape))
    # safetensors requires the tensors to tile the data exactly: sorted by offset, each
    # starting where the previous one ends (no overlap, no hole); it says "invalid offset"
    spans.sort()
    pos = 0
    for start, end, name in spans:
        if start != pos:
            how = "overlaps the previous tensor" if start < pos else "leaves a hole before it"
            raise CorruptFile(f"tensor {name!r}: invalid offset {start} ({how})")
        pos = end
    if end_max > data_len:
        raise CorruptFile(
            f"truncated: tensors end at byte {8 + n + end_max} but the file has {size} bytes"
            f" ({8 + n + end_max - size} missing)"
        )
    if end_max < data_len:
        # safetensors itself refuses this ("MetadataIncompleteBuffer")
        raise CorruptFile(
            f"incomplete metadata: the file has {data_len - end_max} bytes more than its"
            " tensors declare"
        )
    header = Header("safetensors", tensors, metadata, size, end_max)
    header.duplicates = dups
    return header


def read_header(path: str | os.PathLike[str]) -> Header:
    """Header of a safetensors or torch zip file, whatever its extension."""
    p = Path(path)
    _regular(p)
    kind = sniff(p)
    if kind == "pth-zip":
        from wantui.core.models.pth import read_pth_header

        return read_pth_header(p)
    if kind == "gguf":
        raise NotAModelFile(
            "GGUF file (a quantized ComfyUI/llama.cpp format); musubi-tuner needs .safetensors"
        )
    # text under a model's name is a failed download (corrupt: download it again); under
    # another name (notes.txt) it is simply not a model
    failed = CorruptFile if p.suffix.lower() in MODEL_NAME_SUFFIXES else NotAModelFile
    if kind == "lfs-pointer":
        raise failed(
            "a Git LFS pointer, not the model: the repository was cloned without git-lfs"
            " (run `git lfs pull`, or download the file itself)"
        )
    if kind == "html":
        raise failed(
            "an HTML page, not a model: a failed download saved the server's page"
            " (a login, error or 'file not found' page); download it again"
            if failed is CorruptFile
            else "an HTML page, not a model"
        )
    if kind == "text":
        raise failed(
            f"a text file, not a model (it starts {_first_line(p)!r})"
            + (
                ": a failed download saved the server's answer; download it again"
                if failed is CorruptFile
                else ""
            )
        )
    if kind == "safetensors" or p.suffix.lower() == ".safetensors":
        return read_safetensors_header(p)
    if kind == "pth-legacy":
        raise NotAModelFile(
            "legacy (pre-zip) PyTorch pickle; re-save it with a recent torch or use a"
            " .safetensors version"
        )
    raise NotAModelFile("not a safetensors or PyTorch checkpoint")
