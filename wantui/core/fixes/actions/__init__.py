"""The registry of fix actions: one module per action, found here by its ``UNIT``.

Adding an action is adding one module to this package that defines ``UNIT``, an
:class:`~wantui.core.fixes.actions.base.Action`: the closed set of names
(:func:`wantui.core.fixactions.validate_action`, the rule loader), the descriptions,
planning and applying all read :data:`UNITS`. Modules whose name starts with ``_`` hold
what several actions share.
"""

from __future__ import annotations

import importlib
import pkgutil

from wantui.core.fixes.actions.base import Action, Param


def _discover() -> dict[str, Action]:
    units: dict[str, Action] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        unit = getattr(importlib.import_module(f"{__name__}.{info.name}"), "UNIT", None)
        if not isinstance(unit, Action) or unit.name != info.name:
            raise ImportError(f"fix action module {info.name} must define UNIT named {info.name!r}")
        units[unit.name] = unit
    return units


UNITS: dict[str, Action] = _discover()


def unit_for(name: str) -> Action | None:
    return UNITS.get(name)


__all__ = ["UNITS", "Action", "Param", "unit_for"]
