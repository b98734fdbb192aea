"""Model inspection without loading weights: what is this file, and will musubi accept it?

``inspect_file(path)`` reads only the safetensors header or the pickle of a ``torch.save``
zip, so its cost does not depend on the file's size. ``scan_models(folder)`` inspects the
model files in a folder (for guided setup).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.models.headers import (
    CorruptFile,
    Header,
    NotAModelFile,
    TensorMeta,
    read_header,
    read_safetensors_header,
)
from wantui.core.models.identify import identify

__all__ = [
    "KINDS",
    "MODEL_SUFFIXES",
    "CorruptFile",
    "Header",
    "ModelInfo",
    "NotAModelFile",
    "TensorMeta",
    "inspect_file",
    "looks_like_windows_path",
    "read_header",
    "read_safetensors_header",
    "scan_models",
]

KINDS = ("wan-dit", "wan-vae", "t5", "clip", "lora", "other-model", "unknown", "corrupt")
MODEL_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt", ".gguf", ".sft")


@dataclass
class ModelInfo:
    """What a model file is: ``kind`` (one of :data:`KINDS`), storage ``dtype``, details."""

    path: str
    kind: str
    dtype: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    format: str | None = None  # safetensors | pth | gguf | ...
    size: int = 0
    tensors: int = 0
    header: Header | None = field(default=None, repr=False, compare=False)

    @property
    def notes(self) -> list[str]:
        return list(self.details.get("notes", []))

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "dtype": self.dtype,
            "details": dict(self.details),
            "format": self.format,
            "size": self.size,
            "tensors": self.tensors,
        }

    def summary(self) -> str:
        """One line for humans: 'wan-dit 14B i2v (Wan2.1) bf16'."""
        d = self.details
        if self.kind == "wan-dit":
            ver = f" (Wan{d['wan_version']})" if d.get("wan_version") else ""
            return f"Wan DiT {d.get('params')} {d.get('family')}{ver}, {self.dtype}"
        if self.kind == "wan-vae":
            return f"Wan VAE {d.get('version')} ({d.get('layout')} layout), {self.dtype}"
        if self.kind == "t5":
            return f"text encoder, {d.get('layout')} layout, {self.dtype}"
        if self.kind == "clip":
            return f"CLIP {d.get('variant')}, {self.dtype}"
        if self.kind == "lora":
            return (
                f"LoRA rank {d.get('rank')} for {d.get('target')} ({d.get('format')}), {self.dtype}"
            )
        if self.kind == "other-model":
            return f"{d.get('family')} {d.get('part')} ({d.get('layout')} layout, not Wan), {self.dtype}"
        return f"{self.kind}: {d.get('reason', '')}".rstrip(": ")


_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)|\\")


def looks_like_windows_path(raw: str) -> bool:
    """``C:\\...``, ``D:/...``, ``\\\\server\\...`` or any backslash, on a non-Windows
    machine: a path copied from a guide written on the desktop."""
    return os.name != "nt" and bool(_WINDOWS_PATH.search(raw))


# C:\Users\me\x pasted unquoted into bash arrives as C:Usersmex: a drive letter, a colon,
# and no separator after it
_EATEN = re.compile(r"^[A-Za-z]:(?![\\/])\S")


def eaten_backslashes(value: str) -> str | None:
    """A hint when ``value`` looks like a Windows path whose backslashes the shell ate."""
    if os.name == "nt" or not _EATEN.match(value):
        return None
    return (
        f"`{value}` looks like a Windows path whose backslashes the shell removed (bash "
        "takes an unquoted `\\` as an escape: `C:\\Users\\me\\x` arrives as `C:Usersmex`). "
        "Quote each Windows path in single quotes ('C:\\Users\\...') or write it with forward "
        "slashes (C:/Users/...) before pasting the command again."
    )


def inspect_file(path: str | os.PathLike[str]) -> ModelInfo:
    """Identify one model file from its header. Never raises for a bad file: a missing or
    unreadable one is ``unknown`` with a reason, a damaged one ``corrupt``."""
    p = Path(path)
    shown = str(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        return ModelInfo(
            shown, "unknown", details={"reason": "no such file", "notes": [], "unreadable": True}
        )
    except OSError as exc:
        return ModelInfo(
            shown,
            "unknown",
            details={"reason": f"cannot stat: {exc.strerror}", "notes": [], "unreadable": True},
        )
    if p.is_dir():
        return ModelInfo(shown, "unknown", details={"reason": "is a directory", "notes": []})
    if not stat.S_ISREG(st.st_mode):
        # opening a FIFO blocks until someone writes to it; a device may never end
        what = _special_kind(st.st_mode)
        return ModelInfo(
            shown,
            "unknown",
            details={"reason": f"not a regular file ({what})", "notes": [], "unreadable": True},
        )
    try:
        header = read_header(p)
        shards = _read_shards(p, header)
    except CorruptFile as exc:
        return ModelInfo(
            shown,
            "corrupt",
            details={
                "reason": str(exc),
                "notes": ["re-download the file (it is damaged or incomplete)"],
            },
            size=st.st_size,
            format=p.suffix.lower().lstrip(".") or None,
        )
    except NotAModelFile as exc:
        fmt = "gguf" if "GGUF" in str(exc) else None
        return ModelInfo(
            shown, "unknown", details={"reason": str(exc), "notes": []}, size=st.st_size, format=fmt
        )
    except PermissionError:
        return ModelInfo(
            shown,
            "unknown",
            details={"reason": "permission denied", "notes": [], "unreadable": True},
            size=st.st_size,
        )
    except (ValueError, ArithmeticError, MemoryError, RecursionError) as exc:
        # a hostile header no check above foresaw: still one bad file, never a crash
        return ModelInfo(
            shown,
            "corrupt",
            details={
                "reason": f"unreadable header ({type(exc).__name__}: {str(exc)[:120]})",
                "notes": ["re-download the file (it is damaged or incomplete)"],
            },
            size=st.st_size,
            format=p.suffix.lower().lstrip(".") or None,
        )
    except OSError as exc:
        return ModelInfo(
            shown,
            "unknown",
            details={
                "reason": f"cannot read: {exc.strerror or exc}",
                "notes": [],
                "unreadable": True,
            },
            size=st.st_size,
        )
    size = st.st_size
    file_header = header
    if shards is not None:
        header, size = shards
    kind, dtype, details = identify(header, p.name)
    _loading_notes(p, file_header, header, kind, details, shards is not None)
    return ModelInfo(
        shown,
        kind,
        dtype,
        details,
        format=header.format,
        size=size,
        tensors=len(header.tensors),
        header=header,
    )


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


# musubi's get_split_weight_filenames (safetensors_utils.py): "<prefix>00001-of-00003.safetensors"
SHARD_RE = re.compile(r"^(.*?)(\d+)-of-(\d+)\.safetensors$")
MAX_SHARDS = 64


def shard_names(name: str) -> list[str] | None:
    """Every file name of the shard set ``name`` belongs to, as musubi builds them; None
    for a file that is not a shard."""
    m = SHARD_RE.match(name)
    if m is None:
        return None
    count = int(m.group(3))
    if not 1 <= count <= MAX_SHARDS:
        return None
    prefix = name[: m.start(2)]
    return [f"{prefix}{i + 1:05d}-of-{count:05d}.safetensors" for i in range(count)]


def _read_shards(p: Path, header: Header) -> tuple[Header, int] | None:
    """A sharded checkpoint: musubi loads every shard when one is named, so the model is
    what all of them hold together. Raise CorruptFile when a shard is missing or damaged."""
    names = shard_names(p.name) if header.format == "safetensors" else None
    if names is None or len(names) < 2:
        return None
    tensors = dict(header.tensors)
    size = 0
    missing = []
    for name in names:
        sp = p.with_name(name)
        if sp.name == p.name:
            size += header.size
            continue
        if not sp.is_file():
            missing.append(name)
            continue
        try:
            other = read_safetensors_header(sp)
        except CorruptFile as exc:
            raise CorruptFile(f"shard {name}: {exc}") from None
        tensors.update(other.tensors)
        size += other.size
    if missing:
        raise CorruptFile(
            f"shard set incomplete: {', '.join(missing[:3])}"
            + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            + f" missing ({len(names) - len(missing)} of {len(names)} present); musubi"
            " loads every shard and stops with FileNotFoundError"
        )
    merged = Header("safetensors", tensors, dict(header.metadata), size, header.data_bytes)
    return merged, size


def _loading_notes(
    p: Path, file_header: Header, header: Header, kind: str, details: dict[str, Any], sharded: bool
) -> None:
    """What musubi's loaders make of how the file is stored (not what it holds): the
    extension picks the loader, a .pth must hold the state dict at its top level, and a
    shard must hold the key the DiT's dtype is read from."""
    notes = details.setdefault("notes", [])
    suffix = p.suffix.lower()
    if header.format == "pth" and suffix == ".safetensors":
        details["extension_mismatch"] = True
        notes.append(
            "a PyTorch .pth checkpoint named .safetensors: musubi picks the loader from the"
            " extension and fails ('header too large'); rename it to .pth"
        )
    elif header.format == "safetensors" and suffix in (".pth", ".pt", ".bin", ".ckpt"):
        details["extension_mismatch"] = True
        notes.append(
            f"a safetensors file named {suffix}: musubi's VAE/T5/CLIP loaders read it with"
            " torch.load, which fails ('invalid load key'); rename it to .safetensors"
        )
    if header.nested:
        details["nested_under"] = header.nested
        notes.append(
            f"the tensors sit under {header.nested!r} inside the checkpoint: musubi loads the"
            " top level and its strict load fails ('Missing key(s) in state_dict'); save the"
            " inner dict alone"
        )
    if header.duplicates:
        details["duplicate_keys"] = header.duplicates[:5]
        notes.append(
            f"the header names {', '.join(repr(k) for k in header.duplicates[:3])} more than"
            " once (the last entry wins): the file was not written by safetensors; re-download"
            " it if it does not load"
        )
    if sharded:
        details["shards"] = len(shard_names(p.name) or [])
        if kind == "wan-dit" and not any(
            k.endswith("blocks.0.cross_attn.k.weight") for k in file_header.tensors
        ):
            details["dtype_key_in_file"] = False
            notes.append(
                "musubi reads the DiT's dtype from the file named, and this shard lacks"
                " blocks.0.cross_attn.k.weight ('Could not find the dtype in the model"
                " weights'): name the shard that holds it"
            )


# folder entries a scan looks at before it gives up (`wantui inspect ~` on a home holding
# a million dataset frames must answer, not walk for minutes)
MAX_SCAN_ENTRIES = 200_000


def scan_models(
    folder: str | os.PathLike[str],
    *,
    recursive: bool = True,
    limit: int = 500,
    stats: dict[str, Any] | None = None,
) -> list[ModelInfo]:
    """Inspect every model-looking file under ``folder`` (sorted by path, at most ``limit``;
    hidden folders are not entered, symlinked ones once). ``stats``, when given, receives
    ``visited`` (entries looked at) and ``cut`` (True when MAX_SCAN_ENTRIES stopped the walk)."""
    root = Path(folder)
    if not root.is_dir():
        return [inspect_file(root)] if root.exists() else []
    files: list[Path] = []
    visited = 0
    cut = False
    # os.walk, not rglob: hidden folders (.cache, the HF hub's blob store) are pruned
    # instead of walked and filtered, and unreadable folders are skipped. Symlinked folders
    # are followed (models/wan -> /workspace/wan is common on rented boxes), each real
    # folder once, so a link back up the tree is not a loop
    seen_dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        visited += len(dirnames) + len(filenames)
        for name in sorted(filenames):
            if os.path.splitext(name)[1].lower() not in MODEL_SUFFIXES:
                continue
            p = Path(dirpath, name)
            if p.is_file():
                files.append(p)
        if len(files) >= limit or visited >= MAX_SCAN_ENTRIES:
            cut = visited >= MAX_SCAN_ENTRIES
            break
    files = sorted(files)[:limit]
    if stats is not None:
        stats.update(visited=visited, cut=cut)
    # a shard set is one model: inspect it once, through its first present shard
    picked: list[Path] = []
    sets: set[tuple[Path, tuple[str, ...]]] = set()
    for f in sorted(files):
        names = shard_names(f.name)
        if names is not None and len(names) > 1:
            key = (f.parent, tuple(names))
            if key in sets:
                continue
            sets.add(key)
        picked.append(f)
    return [inspect_file(p) for p in picked]
