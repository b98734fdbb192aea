"""Set one key of the dataset TOML; with ``also``, the flag edits of wantui.toml that
belong to the same repair (a flag whose value lives in the dataset TOML: set the key
*and* remove the flag), applied with it as one fix (one preview, one undo).

``value`` is a TOML/JSON literal as a string (``"[17]"``, ``"30.0"``, ``'"head"'``) or a
plain value. ``also`` is a list of ``{"action": "flag_remove" | "flag_replace",
"params": {...}}``: :func:`wantui.core.fixes.plan.plan_fix` plans each as a part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wantui.core.fixes.actions._toml import FILE, KEY, TABLE, KeyAction
from wantui.core.fixes.actions.base import Param, where

ALSO_ACTIONS = frozenset({"flag_remove", "flag_replace"})


class SetKey(KeyAction):
    name = "toml_set_key"
    params = (FILE, TABLE, KEY, Param("value", "value"), Param("also", "list", required=False))

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"Set '{params['key']}' = {params['value']} {where(params)}"

    def check(self, params: Mapping[str, Any], *, templated: bool) -> str | None:
        if "also" not in params:
            return None
        from wantui.core.fixactions import validate_action

        also = params["also"]
        if not isinstance(also, list) or not also:
            return "fix parameter 'also' must be a non-empty list"
        for n, part in enumerate(also, 1):
            if (
                not isinstance(part, dict)
                or part.get("action") not in ALSO_ACTIONS
                or not isinstance(part.get("params"), dict)
            ):
                return f"fix parameter 'also', part {n}: one of {sorted(ALSO_ACTIONS)} with params"
            problem = validate_action(part["action"], part["params"], templated=templated)
            if problem:
                return f"fix parameter 'also', part {n}: {problem}"
        return None

    def edit(self, text: str, params: Mapping[str, Any]) -> str:
        from wantui.core.fixes.toml_edit import set_key

        return set_key(text, params["table"], params["key"], params["value"])


UNIT = SetKey()
