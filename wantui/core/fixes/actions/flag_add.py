"""Add a flag (with its value, if any) to one step's command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wantui.core.fixes.actions._flags import FLAG, STEP, FlagAction
from wantui.core.fixes.actions.base import Param

if TYPE_CHECKING:
    from wantui.core.args.catalog import ArgSpec


class FlagAdd(FlagAction):
    name = "flag_add"
    params = (STEP, FLAG, Param("value", "value", required=False))

    def describe(self, params: Mapping[str, Any]) -> str:
        value = f" {params['value']}" if params.get("value") is not None else ""
        return f"Add {params['flag']}{value} to the {params['step']} step"

    def edit_args(
        self, args: list[str], params: Mapping[str, Any], opts: Mapping[str, ArgSpec]
    ) -> list[str]:
        from wantui.core.fixes.flags import add_flag

        return add_flag(args, params["flag"], params.get("value"), opts)


UNIT = FlagAdd()
