"""What one fix action is: its parameters, its description, its plan and its apply.

Each action of the closed set is one module of this package holding one :class:`Action`
(``UNIT``); :mod:`wantui.core.fixes.actions` finds them. The parameter list is the one
place the rule loader, :func:`wantui.core.fixactions.validate_action` and the planner read
what an action takes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from wantui.core.fixes.plan import FixPlan, PlanContext

# parameter types: "role" and "step" are closed vocabularies checked when a fix is made
# (not in a rule's template, whose values may still hold {captures}); the others say
# what the value is for the reader of a rule and for the plan that checks it
PARAM_TYPES = frozenset(
    {"role", "step", "table", "key", "flag", "value", "name", "bool", "list", "catalog"}
)


@dataclass(frozen=True)
class Param:
    """One parameter of an action: its name, its type (:data:`PARAM_TYPES`) and whether
    a fix must give it."""

    name: str
    type: str
    required: bool = True

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"unknown parameter type {self.type!r}")


def where(params: Mapping[str, Any]) -> str:
    """Where a TOML key edit happens, as a description says it."""
    table = str(params.get("table", ""))
    return {"": "at the top level", "general": "in [general]"}.get(table, f"in {table}")


class Action:
    """One fix action. Subclasses set :attr:`name`, :attr:`params` and :meth:`describe`,
    and plan themselves (:meth:`plan`); :meth:`apply` is the part of applying a plan that
    is not the journal's atomic file write (a download)."""

    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()

    @property
    def required(self) -> frozenset[str]:
        return frozenset(p.name for p in self.params if p.required)

    @property
    def optional(self) -> frozenset[str]:
        return frozenset(p.name for p in self.params if not p.required)

    def check(self, params: Mapping[str, Any], *, templated: bool) -> str | None:
        """A problem of this action's own parameters beyond names and vocabularies."""
        return None

    def describe(self, params: Mapping[str, Any]) -> str:
        return self.name

    def targets(self, params: Mapping[str, Any]) -> frozenset[tuple[str, ...]]:
        """What the fix changes (see :func:`wantui.core.fixactions.fix_targets`)."""
        return frozenset({(self.name, *(str(v) for v in params.values()))})

    def plan(self, plan: FixPlan, ctx: PlanContext) -> None:
        """Fill ``plan`` (its changes) or raise FixRefused / FixMoot with the reason."""
        raise NotImplementedError

    def apply(self, plan: FixPlan, progress: Callable[[Any], None] | None) -> Path | None:
        """Do what the plan says beyond its file change, before that change is written;
        returns a downloaded file, if any."""
        return None
