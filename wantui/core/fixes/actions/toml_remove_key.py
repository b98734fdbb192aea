"""Remove one key of the dataset TOML (only that key's line changes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wantui.core.fixes.actions._toml import FILE, KEY, TABLE, KeyAction
from wantui.core.fixes.actions.base import where


class RemoveKey(KeyAction):
    name = "toml_remove_key"
    params = (FILE, TABLE, KEY)

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"Remove the key '{params['key']}' {where(params)}"

    def edit(self, text: str, params: Mapping[str, Any]) -> str:
        from wantui.core.fixes.toml_edit import remove_key

        return remove_key(text, params["table"], params["key"])


UNIT = RemoveKey()
