"""What the dataset-TOML actions share: the key parameters, and the plan of a text edit
of the dataset config (resolved by role, checked writable, written back parseable)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wantui.core.fixes.actions.base import Action, Param

if TYPE_CHECKING:
    from wantui.core.fixes.plan import FixPlan, PlanContext

FILE = Param("file", "role")
TABLE = Param("table", "table")
KEY = Param("key", "key")


class TomlAction(Action):
    """A text edit of the dataset config (``file: dataset_config``)."""

    def edit(self, text: str, params: Mapping[str, Any]) -> str:
        """The new text, or FixRefused; checked to parse by :meth:`edit_checked`."""
        raise NotImplementedError

    def edit_checked(self, text: str, params: Mapping[str, Any]) -> str:
        from wantui.core.fixes.toml_edit import FixRefused, parse_doc

        table = params.get("table", "")
        if not isinstance(table, str):
            raise FixRefused(f"bad table {table!r}")
        out = self.edit(text, params)
        try:  # never write a file that would not parse back
            parse_doc(out)
        except FixRefused:
            raise FixRefused("the edit would produce invalid TOML; not applied") from None
        return out

    def plan(self, plan: FixPlan, ctx: PlanContext) -> None:
        from wantui.core.fixes import plan as P
        from wantui.core.fixes.toml_edit import FixRefused
        from wantui.core.fsutil import match_newlines

        role = ctx.params["file"]
        if role != "dataset_config":
            raise FixRefused(
                "TOML key fixes edit the dataset config; wantui.toml is edited by flag and env fixes"
            )
        path = P.resolve_role(role, ctx.project, ctx.dataset_config)
        P.check_writable_input(path, plan.root, ctx.project, ctx.dataset_config)
        before = P.read_input(path)
        if path.suffix.lower() == ".json":
            raise FixRefused(f"{path.name} is JSON; wantui's TOML fixes edit .toml dataset configs")
        # musubi-tuner's toml.load fails on a BOM: a fixed dataset config is written without
        _bom, text = P.split_bom(P.decode(before, path))
        after = match_newlines(self.edit_checked(text, ctx.params), text).encode("utf-8")
        if after == before:
            raise FixRefused("the file already says this; nothing to change")
        plan.change = P.FileChange(role, path, before, after)


class KeyAction(TomlAction):
    """One key edit (remove, rename, move, set): what ``toml_edits`` combines."""

    def targets(self, params: Mapping[str, Any]) -> frozenset[tuple[str, ...]]:
        return frozenset(
            {
                (
                    "toml",
                    str(params.get("file", "dataset_config")),
                    str(params["table"]),
                    str(params["key"]),
                )
            }
        )
