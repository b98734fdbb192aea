"""Move one key of the dataset TOML to another table (``""`` is the top level)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wantui.core.fixes.actions._toml import FILE, KEY, TABLE, KeyAction
from wantui.core.fixes.actions.base import Param


class MoveKey(KeyAction):
    name = "toml_move_key"
    params = (FILE, TABLE, KEY, Param("to_table", "table"))

    def describe(self, params: Mapping[str, Any]) -> str:
        src = params["table"] or "the top level"
        return f"Move '{params['key']}' from {src} to {params['to_table'] or 'the top level'}"

    def edit(self, text: str, params: Mapping[str, Any]) -> str:
        from wantui.core.fixes.toml_edit import FixRefused, move_key

        to_table = params["to_table"]
        if not isinstance(to_table, str):
            raise FixRefused(f"bad table {to_table!r}")
        return move_key(text, params["table"], params["key"], to_table)


UNIT = MoveKey()
