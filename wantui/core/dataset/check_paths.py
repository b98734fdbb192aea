"""Filesystem side of a dataset config: cache folders, Windows backslashes in paths."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from wantui.core.dataset.check_base import FILE, CheckerBase, toml_literal
from wantui.core.dataset.positions import BasicString, SourceMap, scan_positions
from wantui.core.finding import Location
from wantui.core.fixactions import FixAction
from wantui.core.pathtext import clean_path, describe, invisible_characters


class PathChecks(CheckerBase):
    """Cache directories shared or missing, and backslashes that TOML reads as escapes."""

    def check_invisible(self, general: dict[str, Any], entries: list[dict[str, Any]]) -> None:
        """String values (folders, JSONL files, caption extension) with characters nobody
        sees: pasted from Explorer's "Copy as path" (U+202A) or a chat app."""
        tables = [("general", general)] + [(f"datasets[{i}]", e) for i, e in enumerate(entries)]
        for table, values in tables:
            for key, value in values.items():
                if not isinstance(value, str) or not invisible_characters(value):
                    continue
                cleaned = clean_path(value)
                self.emit(
                    "path-invisible-character",
                    self.loc(table, key, value=True),
                    fixes=[
                        FixAction(
                            "toml_set_key",
                            {
                                "file": FILE,
                                "table": table,
                                "key": key,
                                "value": toml_literal(cleaned),
                            },
                            label=f'Set {key} = "{cleaned}" (the invisible character removed)',
                        )
                    ],
                    captures={"key": key, "table": table, "cleaned": cleaned},
                    text={
                        "subject": f"`{key}`",
                        "name": key,
                        "where": f" in {table}",
                        "chars": describe(value),
                        "taker": "musubi-tuner",
                        "opened": "the path it opens",
                    },
                )

    def check_cache_dirs(self, entries: list[dict[str, Any]]) -> None:
        seen: dict[str, int] = {}
        used = {
            _norm(self.cwd, e.get("cache_directory"))
            for e in entries
            if isinstance(e.get("cache_directory"), str)
        }
        for i, entry in enumerate(entries):
            cache = entry.get("cache_directory")
            if isinstance(cache, str) and cache and os.path.isfile(_norm(self.cwd, cache)):
                # musubi: os.makedirs(latent_dir, exist_ok=True) -> FileExistsError
                self.emit(
                    "cache-dir-is-file",
                    self.loc(f"datasets[{i}]", "cache_directory", value=True),
                    captures={"key": "cache_directory", "table": f"datasets[{i}]"},
                    text={"cache_directory": cache},
                )
            media = entry.get("video_directory") or entry.get("image_directory")
            effective = (
                cache if isinstance(cache, str) else media if isinstance(media, str) else None
            )
            if effective is None:
                continue
            key = _norm(self.cwd, effective)
            if key not in seen:
                seen[key] = i
                continue
            first = seen[key]
            table = f"datasets[{i}]"
            base = (media if isinstance(media, str) else effective).rstrip("/\\") or "dataset"
            suggestion = f"{base}_cache"
            n = 2
            while _norm(self.cwd, suggestion) in used or _norm(self.cwd, suggestion) in seen:
                suggestion = f"{base}_cache{n}"
                n += 1
            used.add(_norm(self.cwd, suggestion))
            implicit = "" if isinstance(cache, str) else " (the default: its media folder)"
            self.emit(
                "dataset-cache-dir-shared",
                self.loc(table, "cache_directory", value=True)
                if isinstance(cache, str)
                else self.loc(table),
                fixes=[
                    FixAction(
                        "toml_set_key",
                        {
                            "file": FILE,
                            "table": table,
                            "key": "cache_directory",
                            "value": toml_literal(suggestion),
                        },
                        label=f'Set cache_directory = "{suggestion}"',
                    )
                ],
                captures={"cache_directory": effective, "table": table},
                text={"n": i + 1, "first": first + 1, "implicit": implicit},
            )

    cwd: Path = Path(".")

    # -- Windows backslashes -----------------------------------------------------------
    def check_backslashes(self) -> None:
        bad = windows_path_strings(self.pos)
        for s, fixed, decoded, invalid in bad:
            fixes = [
                FixAction(
                    "toml_fix_windows_paths",
                    {"file": FILE},
                    label=f'Write the path with forward slashes: "{fixed}"'
                    if len(bad) == 1
                    else f"Write the {len(bad)} Windows paths with forward slashes",
                )
            ]
            where = Location(str(self.path), s.pos.line, s.pos.column)
            if invalid:
                self.emit(
                    "toml-windows-backslash",
                    where,
                    fixes=fixes,
                    captures={"value": s.raw},
                    text={
                        "effect": f"contains `\\{invalid}`, which is not a TOML escape: the file"
                        " does not parse (`TomlDecodeError: Reserved escape sequence used`).",
                        "fixed": fixed,
                    },
                )
            else:
                self.emit(
                    "toml-windows-backslash",
                    where,
                    catalog="toml-invalid-value",
                    priority=80,
                    fixes=fixes,
                    captures={"value": s.raw},
                    text={
                        "changed": "A Windows path silently changed by TOML escapes",
                        "effect": "parses, but `\\t`, `\\n`, `\\b`, `\\f`, `\\r` are escapes:"
                        f" musubi-tuner reads `{show_controls(decoded)}`, a path that does not exist.",
                        "fixed": fixed,
                    },
                )


_CONTROL_NAMES = {
    "\t": "<tab>",
    "\n": "<newline>",
    "\b": "<backspace>",
    "\f": "<form feed>",
    "\r": "<carriage return>",
    "\x1b": "<escape>",
}


def show_controls(text: str) -> str:
    """``text`` with the control characters TOML escapes made of a Windows path named
    (``clips<tab>rain``): printed raw they look like spaces, or move the cursor."""
    return "".join(
        _CONTROL_NAMES.get(c, f"<U+{ord(c):04X}>") if c in _CONTROL_NAMES or ord(c) < 32 else c
        for c in text
    )


def windows_path_strings(
    positions: SourceMap,
) -> list[tuple[BasicString, str, str, str]]:
    """The double-quoted strings that hold a Windows path TOML reads as escapes: each
    with its forward-slash spelling, its decoded text and its first invalid escape ("" when
    it parses). One answer for the check and for the fix that repairs them."""
    out = []
    for s in positions.strings:
        if "\\" not in s.raw:
            continue
        decoded, invalid = _decode_basic(s.raw)
        changed = any(c in decoded for c in "\b\t\n\f\r\x1b")
        if not invalid and not (changed and _PATHLIKE.search(s.raw)):
            continue
        fixed = s.raw.replace("\\\\", "\x00").replace("\\", "/").replace("\x00", "/")
        out.append((s, fixed, decoded, invalid))
    return out


def forward_slash_windows_paths(text: str) -> str:
    """``text`` with every string :func:`windows_path_strings` finds written with forward
    slashes; only those strings' bytes change (comments, layout and the rest stay)."""
    bad = windows_path_strings(scan_positions(text))
    if not bad:
        raise ValueError("no Windows path in double quotes to rewrite")
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    for s, fixed, _decoded, _invalid in sorted(
        bad, key=lambda b: (b[0].pos.line, b[0].pos.column), reverse=True
    ):
        at = starts[s.pos.line - 1] + s.pos.column - 1
        old = f'"{s.raw}"'
        if text[at : at + len(old)] != old:
            raise ValueError(f"line {s.pos.line}: the string is not where it was found")
        text = text[:at] + f'"{fixed}"' + text[at + len(old) :]
    return text


_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "e": "\x1b",
}
_PATHLIKE = re.compile(r"^(?:[A-Za-z]:|\.{1,2}|~)?\\|[A-Za-z0-9_.-]\\[A-Za-z0-9_ .-]")


def _decode_basic(raw: str) -> tuple[str, str]:
    """Decode TOML basic-string escapes; return (text, first invalid escape char or "")."""
    out: list[str] = []
    i = 0
    invalid = ""
    while i < len(raw):
        c = raw[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in ("u", "U"):
            n = 4 if nxt == "u" else 8
            digits = raw[i + 2 : i + 2 + n]
            if len(digits) == n and all(d in "0123456789abcdefABCDEF" for d in digits):
                out.append("?")
                i += 2 + n
            else:
                invalid = invalid or nxt
                i += 2
        else:
            invalid = invalid or nxt or "\\"
            out.append(nxt)
            i += 2
    return "".join(out), invalid


def _norm(cwd: Path, p: str) -> str:
    path = Path(os.path.expanduser(p))
    if not path.is_absolute():
        path = cwd / path
    return os.path.normcase(os.path.normpath(str(path)))
