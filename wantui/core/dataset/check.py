"""Validate a dataset config the way musubi-tuner v0.3.4 will, but report every problem.

voluptuous stops at the first problem and names it as ``data['datasets'][0]['path']``;
this checker walks the whole file, gives each problem its line and column, a catalog id,
a did-you-mean and typed fix actions (``file: dataset_config``). The checks live in
``check_schema`` (tables, keys, types), ``check_wan`` (Wan value rules) and
``check_paths`` (cache folders, backslashes); this module combines them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wantui.core.dataset.check_base import FILE, toml_literal, voluptuous_path
from wantui.core.dataset.check_paths import PathChecks
from wantui.core.dataset.check_ranges import RangeChecks
from wantui.core.dataset.check_schema import SchemaChecks
from wantui.core.dataset.check_wan import WanValueChecks
from wantui.core.dataset.load import (
    DatasetConfig,
    parse_config_text,
    read_config_text,
    starts_with_bom,
)
from wantui.core.dataset.positions import BasicString, scan_positions
from wantui.core.dataset.schema import (
    ALL_DATASET_KEYS,
    ASCENDABLE,
    IMAGE_ONLY,
    TOP_LEVEL,
    VIDEO_ONLY,
)
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding, Location
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction, toml_edits

__all__ = [
    "FILE",
    "bom_finding",
    "check_config",
    "check_dataset_config",
    "parse_error_findings",
    "toml_literal",
    "voluptuous_path",
]


class _Checker(SchemaChecks, WanValueChecks, RangeChecks, PathChecks):
    """Every dataset check; ``run()`` walks the file once."""

    # -- whole file --------------------------------------------------------------------
    def run(self) -> list[Finding]:
        self.check_backslashes()
        if self.cfg is None:
            return self.findings
        data = self.cfg.data
        for key in data:
            if key not in TOP_LEVEL:
                self.extra_key("", key, TOP_LEVEL)
        general = data.get("general")
        if general is not None and not isinstance(general, dict):
            self.emit(
                "toml-invalid-value",
                self.loc("", "general"),
                text={
                    "key": "general",
                    "problem": "must be a table",
                    "detail": f"`general` must be a `[general]` table ({voluptuous_path('general')}).",
                },
            )
            general = None
        datasets = data.get("datasets")
        if datasets is not None and not (
            isinstance(datasets, list) and all(isinstance(d, dict) for d in datasets)
        ):
            self.emit(
                "toml-invalid-value",
                self.loc("", "datasets"),
                text={
                    "key": "datasets",
                    "problem": "must be an array of tables",
                    "detail": "Write each dataset as a `[[datasets]]` table.",
                },
            )
            datasets = None
        entries: list[dict[str, Any]] = datasets or []
        self.check_general(general or {}, entries)
        for i, entry in enumerate(entries):
            self.check_entry(i, entry, general or {})
        self.check_cache_dirs(entries)
        self.check_invisible(general or {}, entries)
        if not entries:
            self.emit(
                "dataset-no-source",
                Location(str(self.path), 1, 1),
                text={
                    "empty": "The config has no `[[datasets]]` table, so musubi-tuner finds"
                    " nothing to cache or train on."
                },
            )
        return self.findings

    # -- [general] ---------------------------------------------------------------------
    def check_general(self, general: dict[str, Any], entries: list[dict[str, Any]]) -> None:
        for key, value in general.items():
            if key in ASCENDABLE:
                self.check_type("general", key, value, ASCENDABLE[key])
                continue
            if key in VIDEO_ONLY or key in IMAGE_ONLY:
                self.wrong_section(key, value, entries)
                continue
            self.extra_key("general", key, list(ASCENDABLE))

    def wrong_section(self, key: str, value: Any, entries: list[dict[str, Any]]) -> None:
        """A per-dataset key (``cache_directory``, ``target_frames``...) in ``[general]``."""
        fixes: list[FixAction] = []
        if len(entries) == 1 and key not in entries[0]:
            fixes.append(
                FixAction(
                    "toml_move_key",
                    {"file": FILE, "table": "general", "key": key, "to_table": "datasets[0]"},
                    label=f"Move `{key}` from [general] to the [[datasets]] entry",
                )
            )
        elif key != "cache_directory" and entries:
            # copy the value into every entry that lacks it and drop it from [general]: one
            # fix, as either half alone leaves the file rejected or loses the value
            copies = [
                FixAction(
                    "toml_set_key",
                    {
                        "file": FILE,
                        "table": f"datasets[{i}]",
                        "key": key,
                        "value": toml_literal(value),
                    },
                )
                for i, entry in enumerate(entries)
                if key not in entry
            ]
            remove = FixAction("toml_remove_key", {"file": FILE, "table": "general", "key": key})
            fixes.append(
                toml_edits(
                    f"Copy `{key}` into each [[datasets]] entry and remove it from [general]",
                    *copies,
                    remove,
                )
                if copies
                else FixAction(remove.action, remove.params, f"Remove `{key}` from [general]")
            )
        else:
            # one cache_directory for several datasets would be shared: removing it is safe,
            # each dataset then caches beside its media
            fixes.append(
                FixAction(
                    "toml_remove_key",
                    {"file": FILE, "table": "general", "key": key},
                    label=f"Remove `{key}` from [general]",
                )
            )
        self.emit(
            "toml-key-wrong-section",
            self.loc("general", key),
            fixes=fixes,
            captures={"key": key, "table": "general"},
            text={"path": voluptuous_path("general", key)},
        )

    # -- one [[datasets]] entry --------------------------------------------------------


def check_config(cfg: DatasetConfig, cwd: Path | str | None = None) -> list[Finding]:
    """Schema and Wan rules for an already-loaded config."""
    checker = _Checker(cfg, cfg.path, cfg.text, cfg.positions)
    checker.cwd = Path(cwd) if cwd is not None else Path.cwd()
    return checker.run()


# characters a word processor, a web page or a Japanese IME puts where TOML needs ASCII
_LOOKALIKES = {
    "\u201c": '"',
    "\u201d": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u3000": "a space",
    "\u00a0": "a space",
    "\uff1d": "=",
    "\uff0c": ",",
    "\uff3b": "[",
    "\uff3d": "]",
    "\uff02": '"',
    "\uff0e": ".",
}


def _lookalikes(text: str, line: int | None) -> str:
    """The look-alike characters on the failing line and what to write instead (the error
    only shows one), or ""."""
    if not line:
        return ""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return ""
    found = [ch for ch in _LOOKALIKES if ch in lines[line - 1]]
    return ", ".join(f"`{ch}` (U+{ord(ch):04X}) with {_LOOKALIKES[ch]}" for ch in found)


def parse_error_findings(err: WantuiError, path: Path, text: str) -> list[Finding]:
    """A syntax error as findings: the error with line/column, plus the backslash cause."""
    checker = _Checker(None, path, text, scan_positions(text))
    checker.run()
    on_line = [f for f in checker.findings if f.catalog == "toml-parse-error"]
    if on_line:
        # a Windows path explains the syntax error: that finding is the root cause
        return on_line + [f for f in checker.findings if f.catalog != "toml-parse-error"]
    kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
    return [
        emit(
            "toml-parse-error",
            origin="check",
            location=Location(str(path), err.line, err.column),
            text={
                "kind": kind,
                "error": err.message,
                "line": err.line,
                "swaps": _lookalikes(text, err.line),
            },
            steps=(),
        ),
        *checker.findings,
    ]


def bom_finding(path: Path) -> Finding:
    """The file starts with a BOM: musubi-tuner's toml (0.10) and json readers fail on it."""
    json_file = path.suffix.lower() == ".json"
    reader = (
        {"reader": "json.load", "error": "Unexpected UTF-8 BOM", "json": "yes"}
        if json_file
        else {
            "reader": "toml.load",
            "error": "Found invalid character in key name",
            "where": " on line 1, after `Error on parsing TOML config file`",
        }
    )
    return emit(
        "dataset-config-bom",
        origin="check",
        location=Location(str(path), 1, 1),
        text=reader,
        steps=(),
    )


def check_dataset_config(
    path: str | os.PathLike[str], cwd: Path | str | None = None
) -> list[Finding]:
    """Every problem of a dataset config file as Findings.

    A file that cannot be read at all (missing, a folder, binary, not UTF-8, huge) raises
    WantuiError; a file that does not parse is a ``toml-parse-error`` finding.
    """
    p = Path(path)
    text = read_config_text(p)
    bom = [bom_finding(p)] if starts_with_bom(p) else []
    try:
        cfg = parse_config_text(text, p)
    except WantuiError as err:
        return bom + parse_error_findings(err, p, text)
    return bom + check_config(cfg, cwd)


__all__ = [
    "ALL_DATASET_KEYS",
    "BasicString",
    "bom_finding",
    "check_config",
    "check_dataset_config",
    "parse_error_findings",
    "toml_literal",
    "voluptuous_path",
]
