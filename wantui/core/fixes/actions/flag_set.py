"""Set a flag's value in one step's command line.

``ceiling: true``: the value is an upper bound (fewer workers, fewer blocks): the fix
applies only when the step's value (or musubi-tuner's default) is above it, so it never
raises a value the user already lowered; otherwise it is moot and not offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wantui.core.fixes.actions._flags import FLAG, STEP, FlagAction
from wantui.core.fixes.actions.base import Param

if TYPE_CHECKING:
    from wantui.core.args.catalog import ArgSpec


class FlagSet(FlagAction):
    name = "flag_set"
    params = (STEP, FLAG, Param("value", "value"), Param("ceiling", "bool", required=False))

    def describe(self, params: Mapping[str, Any]) -> str:
        most = " (at most)" if params.get("ceiling") else ""
        return f"Set {params['flag']} {params['value']}{most} in the {params['step']} step"

    def edit_args(
        self, args: list[str], params: Mapping[str, Any], opts: Mapping[str, ArgSpec]
    ) -> list[str]:
        from wantui.core.fixes.flags import set_flag

        return set_flag(args, params["flag"], params["value"], opts)

    def check_step(self, params: Mapping[str, Any], args: list[str], step: str) -> None:
        if not params.get("ceiling"):
            return
        from wantui.core.args.options import options_for
        from wantui.core.fixes.flags import current_values
        from wantui.core.fixes.toml_edit import FixMoot

        now = current_values(args, params["flag"], options_for(step))
        where = ""
        if now is None:
            spec = options_for(step).get(params["flag"])
            now = [str(spec.default)] if spec is not None and spec.default is not None else None
            where = " (musubi-tuner's default)"
        try:
            shown = now[-1]  # type: ignore[index]
            current, limit = float(shown), float(params["value"])
        except (TypeError, ValueError, IndexError):
            return  # not a number: let the user see the change
        if current <= limit:
            raise FixMoot(
                f"{params['flag']} is already {shown}{where}, not above {params['value']}: this fix would"
                " not lower it"
            )


UNIT = FlagSet()
