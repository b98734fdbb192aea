"""Several key edits (remove, rename, move, set) of the dataset TOML as one fix (one
plan, one undo), for a repair that is only right whole: set target_frames *and* remove
num_frames. ``edits`` is a list of ``{"action": "toml_...", <its params but file>}``,
each done on the result of the one before; any refusal refuses the whole fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wantui.core.fixes.actions._toml import FILE, KeyAction, TomlAction
from wantui.core.fixes.actions.base import Param


def _key_edits() -> dict[str, KeyAction]:
    from wantui.core.fixes.actions import UNITS

    return {n: u for n, u in UNITS.items() if isinstance(u, KeyAction)}


def _parts(params: Mapping[str, Any]) -> list[tuple[KeyAction, dict[str, Any]]]:
    units = _key_edits()
    return [
        (
            units[e["action"]],
            {"file": params["file"], **{k: v for k, v in e.items() if k != "action"}},
        )
        for e in params["edits"]
    ]


class TomlEdits(TomlAction):
    name = "toml_edits"
    params = (FILE, Param("edits", "list"))

    def check(self, params: Mapping[str, Any], *, templated: bool) -> str | None:
        from wantui.core.fixactions import validate_action

        edits = params["edits"]
        if not isinstance(edits, list) or not edits:
            return "fix action 'toml_edits': edits must be a non-empty list"
        names = sorted(_key_edits())
        for n, edit in enumerate(edits, 1):
            if not isinstance(edit, dict) or edit.get("action") not in names:
                return f"fix action 'toml_edits': edit {n} must name one of {names}"
            sub = {k: v for k, v in edit.items() if k != "action"}
            problem = validate_action(
                edit["action"], {"file": "dataset_config", **sub}, templated=templated
            )
            if problem:
                return f"fix action 'toml_edits', edit {n}: {problem}"
        return None

    def describe(self, params: Mapping[str, Any]) -> str:
        return "; ".join(unit.describe(p) for unit, p in _parts(params))

    def targets(self, params: Mapping[str, Any]) -> frozenset[tuple[str, ...]]:
        return frozenset(
            ("toml", str(params["file"]), str(e.get("table", "")), str(e.get("key", "")))
            for e in params["edits"]
            if isinstance(e, dict)
        )

    def edit(self, text: str, params: Mapping[str, Any]) -> str:
        from wantui.core.fixes.toml_edit import FixRefused

        for n, (unit, sub) in enumerate(_parts(params), 1):
            try:
                text = unit.edit_checked(text, sub)
            except FixRefused as exc:
                raise FixRefused(f"step {n} of this fix: {exc}") from None
        return text


UNIT = TomlEdits()
