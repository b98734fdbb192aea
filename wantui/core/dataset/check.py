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
from wantui.core.finding import Finding, Location, Severity
from wantui.core.findings import make_finding
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
            self.add(
                "toml-invalid-value",
                "toml-invalid-value",
                Severity.ERROR,
                "`general` must be a table",
                f"`general` must be a `[general]` table ({voluptuous_path('general')}).",
                self.loc("", "general"),
            )
            general = None
        datasets = data.get("datasets")
        if datasets is not None and not (
            isinstance(datasets, list) and all(isinstance(d, dict) for d in datasets)
        ):
            self.add(
                "toml-invalid-value",
                "toml-invalid-value",
                Severity.ERROR,
                "`datasets` must be an array of tables",
                "Write each dataset as a `[[datasets]]` table.",
                self.loc("", "datasets"),
            )
            datasets = None
        entries: list[dict[str, Any]] = datasets or []
        self.check_general(general or {}, entries)
        for i, entry in enumerate(entries):
            self.check_entry(i, entry, general or {})
        self.check_cache_dirs(entries)
        self.check_invisible(general or {}, entries)
        if not entries:
            self.add(
                "dataset-no-source",
                "dataset-no-source",
                Severity.ERROR,
                "No [[datasets]] entry",
                "The config has no `[[datasets]]` table, so musubi-tuner finds nothing to cache or train on.",
                Location(str(self.path), 1, 1),
                advice=[
                    'Add a `[[datasets]]` table with `video_directory = "..."` or `image_directory = "..."`.'
                ],
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
        self.add(
            "toml-key-wrong-section",
            "toml-extra-key",
            Severity.ERROR,
            f"`{key}` belongs in [[datasets]], not [general]",
            f"`{key}` is a per-dataset key; in [general] musubi-tuner rejects it with "
            f"`extra keys not allowed @ {voluptuous_path('general', key)}`.",
            self.loc("general", key),
            fixes=fixes,
            captures={"key": key, "table": "general"},
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


def _lookalike_advice(text: str, line: int | None) -> list[str]:
    """Name the look-alike characters on the failing line (the error only shows one)."""
    if not line:
        return []
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return []
    found = [ch for ch in _LOOKALIKES if ch in lines[line - 1]]
    if not found:
        return []
    swaps = ", ".join(f"`{ch}` (U+{ord(ch):04X}) with {_LOOKALIKES[ch]}" for ch in found)
    return [
        f"Line {line} has characters that look like TOML syntax but are not: replace {swaps}. "
        "They come from word processors, web pages and full-width (IME) input."
    ]


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
        make_finding(
            "toml-parse-error",
            "toml-parse-error",
            Severity.ERROR,
            f"The dataset config is not valid {kind}",
            f"{err.message}. musubi-tuner stops with `Error on parsing {kind} config file`.",
            origin="check",
            location=Location(str(path), err.line, err.column),
            advice=_lookalike_advice(text, err.line),
            steps=(),
            priority=90,
        ),
        *checker.findings,
    ]


def bom_finding(path: Path) -> Finding:
    """The file starts with a BOM: musubi-tuner's toml (0.10) and json readers fail on it."""
    json_file = path.suffix.lower() == ".json"
    return make_finding(
        "dataset-config-bom",
        "toml-parse-error",
        Severity.ERROR,
        "The dataset config starts with a BOM (UTF-8 with BOM)",
        "musubi-tuner cannot read it: "
        + (
            "`json.load` stops with `Unexpected UTF-8 BOM`."
            if json_file
            else "`toml.load` stops with `Found invalid character in key name` on line 1, "
            "after `Error on parsing TOML config file`."
        ),
        origin="check",
        location=Location(str(path), 1, 1),
        advice=[
            "Save the file as UTF-8 without BOM (Notepad: Save As, Encoding: UTF-8; "
            "VS Code: click 'UTF-8 with BOM' in the status bar, 'Save with Encoding', 'UTF-8').",
        ]
        + (
            [] if json_file else ["Any other fix wantui applies to this file also removes the BOM."]
        ),
        steps=(),
        priority=95,
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
