"""Reading a dataset config (TOML, or JSON as musubi-tuner also accepts) without tracebacks."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

from wantui.core.dataset.positions import SourceMap, scan_positions
from wantui.core.errors import WantuiError

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a dataset config is a few hundred bytes; 4 MiB is not one


@dataclass
class DatasetConfig:
    """A parsed dataset config: plain data, the tomlkit document and source positions."""

    path: Path
    text: str
    data: dict[str, Any]
    positions: SourceMap
    doc: Any = None  # tomlkit document (None for JSON)
    format: str = "toml"

    @property
    def general(self) -> dict[str, Any]:
        g = self.data.get("general")
        return g if isinstance(g, dict) else {}

    @property
    def datasets(self) -> list[dict[str, Any]]:
        d = self.data.get("datasets")
        if not isinstance(d, list):
            return []
        return [e if isinstance(e, dict) else {} for e in d]

    extra: dict[str, Any] = field(default_factory=dict)


def read_config_text(path: str | os.PathLike[str]) -> str:
    """The file's text, or a WantuiError naming it (missing, a folder, huge, binary, not UTF-8)."""
    p = Path(path)
    try:
        if p.is_dir():
            raise WantuiError("is a directory, not a dataset config", path=p)
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise WantuiError(f"too large for a dataset config ({size} bytes)", path=p)
        raw = p.read_bytes()
    except FileNotFoundError:
        raise WantuiError("dataset config not found", path=p) from None
    except PermissionError:
        raise WantuiError("cannot read the dataset config: permission denied", path=p) from None
    except OSError as exc:
        raise WantuiError(
            f"cannot read the dataset config: {exc.strerror or exc}", path=p
        ) from None
    if b"\x00" in raw:
        raise WantuiError("binary file, not a TOML dataset config", path=p)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise WantuiError(
            f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", path=p, line=line
        ) from None
    return text.removeprefix("\ufeff")


def parse_config_text(text: str, path: Path) -> DatasetConfig:
    """Parse already-read text; a syntax error is a WantuiError with line and column."""
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise WantuiError(
                f"JSON syntax error: {exc.msg}", path=path, line=exc.lineno, column=exc.colno
            ) from None
        if not isinstance(data, dict):
            raise WantuiError("the top level of a dataset config must be an object", path=path)
        return DatasetConfig(path=path, text=text, data=data, positions=SourceMap(), format="json")
    try:
        doc = tomlkit.parse(text)
        data = doc.unwrap()
    except tomlkit.exceptions.ParseError as exc:
        message = str(exc)
        # tomlkit appends " at line L col C"; the position is carried separately
        cut = message.rfind(" at line ")
        if cut > 0:
            message = message[:cut]
        message = message.replace("'\\x00'", "end of file")  # tomlkit's EOF sentinel
        raise WantuiError(
            f"TOML syntax error: {message}", path=path, line=exc.line, column=max(exc.col, 1)
        ) from None
    except Exception as exc:  # tomlkit raises a few non-ParseError types on odd input
        raise WantuiError(f"TOML syntax error: {type(exc).__name__}: {exc}", path=path) from None
    return DatasetConfig(path=path, text=text, data=data, positions=scan_positions(text), doc=doc)


def load_dataset_config(path: str | os.PathLike[str]) -> DatasetConfig:
    """Read and parse a dataset config. Raises WantuiError (with line/column when known)."""
    p = Path(path)
    return parse_config_text(read_config_text(p), p)
