"""Replace a flag of one step's command line by another (with a new value, if any)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wantui.core.fixes.actions._flags import FLAG, STEP, FlagAction
from wantui.core.fixes.actions.base import Param

if TYPE_CHECKING:
    from wantui.core.args.catalog import ArgSpec


class FlagReplace(FlagAction):
    name = "flag_replace"
    params = (STEP, FLAG, Param("new_flag", "flag"), Param("value", "value", required=False))

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"Replace {params['flag']} with {params['new_flag']} in the {params['step']} step"

    def edit_args(
        self, args: list[str], params: Mapping[str, Any], opts: Mapping[str, ArgSpec]
    ) -> list[str]:
        from wantui.core.fixes.flags import replace_flag

        return replace_flag(args, params["flag"], params["new_flag"], params.get("value"), opts)


UNIT = FlagReplace()
