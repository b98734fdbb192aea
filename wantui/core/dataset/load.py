"""Reading a dataset config (TOML, or JSON as musubi-tuner also accepts) without tracebacks."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

from wantui.core.dataset.positions import SourceMap, scan_positions
from wantui.core.errors import WantuiError
from wantui.core.fsutil import read_regular_file

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
    raw = read_regular_file(p, limit=MAX_CONFIG_BYTES, what="dataset config")
    if b"\x00" in raw:
        raise WantuiError("binary file, not a TOML dataset config", path=p)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        from wantui.core.textenc import guess_encoding

        looks = guess_encoding(raw)
        like = f", looks like {looks}" if looks and looks != "unknown" else ""
        raise WantuiError(
            f"not UTF-8 text (byte {exc.start}{like}); save the file as UTF-8 "
            "(musubi-tuner reads it as UTF-8)",
            path=p,
            line=line,
        ) from None
    return text.removeprefix("\ufeff")


def starts_with_bom(path: str | os.PathLike[str]) -> bool:
    """Whether the file begins with a UTF-8 BOM (Notepad's "UTF-8 with BOM"). wantui reads
    past it, but musubi-tuner's ``toml.load`` / ``json.load`` do not."""
    try:
        with open(path, "rb") as f:
            return f.read(3) == b"\xef\xbb\xbf"
    except OSError:
        return False


def parse_config_text(text: str, path: Path) -> DatasetConfig:
    """Parse already-read text; a syntax error is a WantuiError with line and column."""
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except RecursionError:  # "[[[[..." nested past Python's limit
            raise WantuiError("JSON syntax error: nested too deeply", path=path) from None
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
    except Exception as exc:  # ParseError, and a few other types (duplicate keys) on odd input
        raise toml_error(exc, text, path) from None
    return DatasetConfig(path=path, text=text, data=data, positions=scan_positions(text), doc=doc)


_DUPLICATE = re.compile(r'Key "(.+?)" already exists')


def duplicate_key_line(text: str, key: str) -> int | None:
    """The line of the second assignment of ``key`` in one table (tomlkit's duplicate-key
    error carries no position). Table headers start a new scope; the scan is textual."""
    bare = re.escape(key)
    assign = re.compile(rf"""^\s*(?:{bare}|"{bare}"|'{bare}')\s*=""")
    seen = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("["):
            seen = False
        elif assign.match(line):
            if seen:
                return number
            seen = True
    return None


def toml_error(exc: Exception, text: str, path: Path) -> WantuiError:
    """A tomlkit exception as a one-line WantuiError with the line and column it has.

    A duplicate key is reported the same way whichever tomlkit raised it: before 0.13.3 a
    ``KeyAlreadyPresent`` with no position, from then on a ``ParseError`` with one."""
    message = str(exc).rstrip(".")
    duplicate = _DUPLICATE.search(message)
    if duplicate:
        key = duplicate.group(1)
        line = duplicate_key_line(text, key)
        if line is None and isinstance(exc, tomlkit.exceptions.ParseError):
            line = exc.line
        return WantuiError(
            f"TOML syntax error: the key `{key}` is given twice in one table",
            path=path,
            line=line,
        )
    if isinstance(exc, tomlkit.exceptions.ParseError):
        # tomlkit appends " at line L col C"; the position is carried separately
        cut = message.rfind(" at line ")
        if cut > 0:
            message = message[:cut]
        message = message.replace("'\\x00'", "end of file")  # tomlkit's EOF sentinel
        return WantuiError(
            f"TOML syntax error: {message.rstrip('.')}",
            path=path,
            line=exc.line,
            column=max(exc.col, 1),
        )
    return WantuiError(f"TOML syntax error: {type(exc).__name__}: {message}", path=path)


def load_dataset_config(path: str | os.PathLike[str]) -> DatasetConfig:
    """Read and parse a dataset config. Raises WantuiError (with line/column when known)."""
    p = Path(path)
    return parse_config_text(read_config_text(p), p)
