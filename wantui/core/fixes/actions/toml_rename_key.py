"""Rename one key of the dataset TOML (value, comment and position kept)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wantui.core.fixes.actions._toml import FILE, KEY, TABLE, KeyAction
from wantui.core.fixes.actions.base import Param, where


class RenameKey(KeyAction):
    name = "toml_rename_key"
    params = (FILE, TABLE, KEY, Param("new_key", "key"))

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"Rename '{params['key']}' to '{params['new_key']}' {where(params)}"

    def edit(self, text: str, params: Mapping[str, Any]) -> str:
        from wantui.core.fixes.toml_edit import rename_key

        return rename_key(text, params["table"], params["key"], params["new_key"])


UNIT = RenameKey()
