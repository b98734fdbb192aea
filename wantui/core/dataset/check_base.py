"""The dataset checker's shared parts: where a key sits in the file, how a finding is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit

from wantui.core.dataset.load import DatasetConfig
from wantui.core.dataset.positions import Pos, SourceMap
from wantui.core.finding import Location
from wantui.core.findings import FindingList

FILE = "dataset_config"


def toml_literal(value: Any) -> str:
    """A value as a TOML literal string (what toml_set_key's ``value`` carries)."""
    return tomlkit.item(value).as_string()


def voluptuous_path(table: str, key: str | None = None) -> str:
    """``general`` / ``datasets[0]`` -> ``data['general']`` / ``data['datasets'][0]``."""
    if table.startswith("datasets["):
        out = f"data['datasets'][{table[9:-1]}]"
    elif table:
        out = f"data['{table}']"
    else:
        out = "data"
    return out + (f"['{key}']" if key is not None else "")


class CheckerBase:
    """A dataset config, its positions and the findings made so far."""

    def __init__(
        self, cfg: DatasetConfig | None, path: Path, text: str, positions: SourceMap
    ) -> None:
        self.cfg = cfg
        self.path = path
        self.text = text
        self.pos = positions
        self.out = FindingList()
        self.findings = self.out.findings

    # -- helpers -----------------------------------------------------------------------
    def loc(self, table: str, key: str | None = None, *, value: bool = False) -> Location:
        p: Pos | None = None
        if key is not None:
            p = self.pos.value(table, key) if value else self.pos.key(table, key)
        if p is None and table == "" and key is not None:
            p = self.pos.table(key)  # a top-level table: its [header]
        if p is None:
            p = self.pos.table(table)
        return Location(str(self.path), p.line if p else None, p.column if p else None)

    def emit(self, rule: str, location: Location | None, **kw: Any) -> None:
        """A dataset-config finding of a declared id; ``kw`` as for ``findings.emit``."""
        self.out.emit(rule, origin="check", location=location, **kw)
