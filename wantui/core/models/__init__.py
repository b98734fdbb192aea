"""Model inspection without loading weights: what is this file, and will musubi accept it?

``inspect_file(path)`` reads only the safetensors header or the pickle of a ``torch.save``
zip, so its cost does not depend on the file's size. ``scan_models(folder)`` inspects the
model files in a folder (for guided setup).
"""

from __future__ import annotations

import os
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
    "read_header",
    "read_safetensors_header",
    "scan_models",
]

KINDS = ("wan-dit", "wan-vae", "t5", "clip", "lora", "unknown", "corrupt")
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
        return f"{self.kind}: {d.get('reason', '')}".rstrip(": ")


def inspect_file(path: str | os.PathLike[str]) -> ModelInfo:
    """Identify one model file from its header. Never raises for a bad file: a missing or
    unreadable one is ``unknown`` with a reason, a damaged one ``corrupt``."""
    p = Path(path)
    shown = str(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        return ModelInfo(shown, "unknown", details={"reason": "no such file", "notes": []})
    except OSError as exc:
        return ModelInfo(
            shown, "unknown", details={"reason": f"cannot stat: {exc.strerror}", "notes": []}
        )
    if p.is_dir():
        return ModelInfo(shown, "unknown", details={"reason": "is a directory", "notes": []})
    try:
        header = read_header(p)
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
            shown, "unknown", details={"reason": "permission denied", "notes": []}, size=st.st_size
        )
    except OSError as exc:
        return ModelInfo(
            shown,
            "unknown",
            details={"reason": f"cannot read: {exc.strerror or exc}", "notes": []},
            size=st.st_size,
        )
    kind, dtype, details = identify(header, p.name)
    return ModelInfo(
        shown,
        kind,
        dtype,
        details,
        format=header.format,
        size=st.st_size,
        tensors=len(header.tensors),
        header=header,
    )


def scan_models(
    folder: str | os.PathLike[str], *, recursive: bool = True, limit: int = 500
) -> list[ModelInfo]:
    """Inspect every model-looking file under ``folder`` (sorted by path, at most ``limit``)."""
    root = Path(folder)
    if not root.is_dir():
        return [inspect_file(root)] if root.exists() else []
    it = root.rglob("*") if recursive else root.iterdir()
    files: list[Path] = []
    for p in it:
        # skip hidden folders such as .cache and the HF hub's blob store
        if any(part.startswith(".") for part in p.relative_to(root).parts[:-1]):
            continue
        if p.suffix.lower() in MODEL_SUFFIXES and p.is_file():
            files.append(p)
            if len(files) >= limit:
                break
    return [inspect_file(p) for p in sorted(files)]
