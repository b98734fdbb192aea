"""Remove a flag (and its values) from one step's command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wantui.core.fixes.actions._flags import FLAG, STEP, FlagAction

if TYPE_CHECKING:
    from wantui.core.args.catalog import ArgSpec


class FlagRemove(FlagAction):
    name = "flag_remove"
    params = (STEP, FLAG)

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"Remove {params['flag']} from the {params['step']} step"

    def edit_args(
        self, args: list[str], params: Mapping[str, Any], opts: Mapping[str, ArgSpec]
    ) -> list[str]:
        from wantui.core.fixes.flags import remove_flag

        return remove_flag(args, params["flag"], opts)


UNIT = FlagRemove()
