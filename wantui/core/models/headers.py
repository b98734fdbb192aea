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
    "F4": 0.5,
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


def sniff(path: Path) -> str:
    """Guess the container from the first bytes: safetensors, pth-zip, pth-legacy, gguf, other."""
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
    return "other"


def read_safetensors_header(path: str | os.PathLike[str]) -> Header:
    """Parse and validate a safetensors header; raise CorruptFile with a reason."""
    p = Path(path)
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
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CorruptFile(f"header is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise CorruptFile(f"header is not valid JSON ({exc.msg} at byte {exc.pos})") from None
    if not isinstance(obj, dict):
        raise CorruptFile("header is not a JSON object")
    meta_raw = obj.pop("__metadata__", None) or {}
    metadata = {str(k): str(v) for k, v in meta_raw.items()} if isinstance(meta_raw, dict) else {}
    data_len = size - 8 - n
    tensors: dict[str, TensorMeta] = {}
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
        if itemsize is not None and end - start != int(numel * itemsize):
            raise CorruptFile(
                f"tensor {name!r}: declares {end - start} bytes for"
                f" shape {shape} {dtype} ({int(numel * itemsize)} expected)"
            )
        if end > end_max:
            end_max = end
        tensors[name] = TensorMeta(dtype, tuple(shape))
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
    return Header("safetensors", tensors, metadata, size, end_max)


def read_header(path: str | os.PathLike[str]) -> Header:
    """Header of a safetensors or torch zip file, whatever its extension."""
    p = Path(path)
    kind = sniff(p)
    if kind == "pth-zip":
        from wantui.core.models.pth import read_pth_header

        return read_pth_header(p)
    if kind == "safetensors" or p.suffix.lower() == ".safetensors":
        return read_safetensors_header(p)
    if kind == "gguf":
        raise NotAModelFile(
            "GGUF file (a quantized ComfyUI/llama.cpp format); musubi-tuner needs .safetensors"
        )
    if kind == "pth-legacy":
        raise NotAModelFile(
            "legacy (pre-zip) PyTorch pickle; re-save it with a recent torch or use a"
            " .safetensors version"
        )
    raise NotAModelFile("not a safetensors or PyTorch checkpoint")
