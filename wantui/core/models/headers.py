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


@dataclass(frozen=True)
class TensorMeta:
    """One tensor as declared in a header: safetensors dtype name and shape."""

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
        if not isinstance(entry, dict):
            raise CorruptFile(f"tensor {name!r}: entry is not an object")
        dtype = entry.get("dtype")
        shape = entry.get("shape")
        offsets = entry.get("data_offsets")
        if not isinstance(dtype, str) or not isinstance(shape, list):
            raise CorruptFile(f"tensor {name!r}: missing dtype or shape")
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise CorruptFile(f"tensor {name!r}: bad shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise CorruptFile(f"tensor {name!r}: bad data_offsets {offsets!r}")
        meta = TensorMeta(dtype, tuple(shape))
        itemsize = DTYPE_SIZES.get(dtype)
        if itemsize is not None and offsets[1] - offsets[0] != int(meta.numel * itemsize):
            raise CorruptFile(
                f"tensor {name!r}: declares {offsets[1] - offsets[0]} bytes for"
                f" shape {list(shape)} {dtype} ({int(meta.numel * itemsize)} expected)"
            )
        end_max = max(end_max, offsets[1])
        tensors[name] = meta
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
