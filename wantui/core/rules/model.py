"""The Rule model: what one YAML file in ``rules/`` declares (see rules/FORMAT.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.errors import WantuiError
from wantui.core.finding import Severity
from wantui.core.rules.examples import examples_in
from wantui.core.traceback_anatomy import OWNERS

CONTEXT_KEYS = frozenset(
    {"dataset_config", "step", "script", "source", "exit_status", "arch_name", "cache_arch"}
)
# the owners of a frame that a `match.raised_in` may name: the anatomy's own list, plus
# "unknown" (a traceback whose innermost frame could not be attributed)
RAISED_IN = frozenset((*OWNERS, "unknown"))
RULE_STEPS = frozenset({"latents", "te", "train", "any"})
DEFAULT_WINDOW = 30


@dataclass(frozen=True)
class Pattern:
    """One regex of a rule, with the literals one of which any match must contain."""

    source: str
    # re.Pattern for built-in rules; for the others an RE2 regex with the same search()
    # and groupindex (rules/linear.py). None: a shipped rule's regex, compiled when first
    # used (compiling all of them at every start costs more than scanning 100 MB of log;
    # the literal scan decides which ever run)
    compiled: re.Pattern[str] | Any | None
    ignore_case: bool = False
    literals: tuple[str, ...] | None = None  # None: no literal, every line is a candidate
    names: frozenset[str] | None = None  # the capture names, known without compiling

    @property
    def regex(self) -> re.Pattern[str] | Any:
        rx = self.compiled
        if rx is None:
            rx = re.compile(self.source, re.IGNORECASE if self.ignore_case else 0)
            object.__setattr__(self, "compiled", rx)  # a cache, not a change of value
        return rx

    @property
    def groups(self) -> set[str]:
        if self.names is not None:
            return set(self.names)
        return set(self.regex.groupindex)


@dataclass(frozen=True)
class FixTemplate:
    action: str
    params: dict[str, Any]
    label: str = ""


@dataclass
class Rule:
    id: str
    catalog: str
    title: str
    severity: Severity
    steps: tuple[str, ...]
    priority: int
    any: list[Pattern]
    message: str
    all: list[Pattern] = field(default_factory=list)
    followed_by: list[Pattern] = field(default_factory=list)
    none: list[Pattern] = field(default_factory=list)  # the YAML `not:`
    window: int = DEFAULT_WINDOW
    once: bool = True
    caused_by: tuple[str, ...] = ()
    advice: list[str] = field(default_factory=list)
    fixes: list[FixTemplate] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    derive: dict[str, str] = field(default_factory=dict)
    # musubi-tuner architectures the rule speaks for (wantui/core/architecture.py); empty:
    # every one (shared code). A run known to be another architecture skips the rule.
    architectures: tuple[str, ...] = ()
    # the trigger must be an exception raised in code of one of these owners (the
    # innermost traceback frame; "unknown" when the log shows no frames); empty: anywhere
    raised_in: tuple[str, ...] = ()
    # the musubi-tuner versions the rule holds for (wantui/core/versions.py spec, e.g.
    # ">=0.3.5"); empty: every version
    musubi: str = ""
    # fire only when this capture's value was printed before under another dataset of
    # musubi's config dump ("[Dataset N]" headers) in the same log: a shared value
    repeated_in_datasets: str | None = None
    path: Path | None = None
    builtin: bool = True

    @property
    def simple(self) -> bool:
        """Fires on its trigger line at once (no all/followed_by/not conditions)."""
        return not (self.all or self.followed_by or self.none)

    @property
    def capture_names(self) -> set[str]:
        names: set[str] = set()
        for p in self.patterns():
            names |= p.groups
        return names

    def patterns(self) -> list[Pattern]:
        return [*self.any, *self.all, *self.followed_by, *self.none]

    def examples(self) -> tuple[list[Path], list[Path]]:
        """Positive and negative example logs beside the rule: the ``examples/*.log``
        whose ``#=MATCH=#`` / ``#=NOMATCH=#`` markers name it (rules/FORMAT.md)."""
        if self.path is None:
            return [], []
        found = examples_in(self.path.parent / "examples")
        pos = [e.path for e in found if self.id in e.positive]
        neg = [e.path for e in found if self.id in e.negative]
        return pos, neg


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    problems: list[WantuiError] = field(default_factory=list)  # skipped user rules
    notices: list[str] = field(default_factory=list)  # untrusted folders, replaced built-ins

    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}

    def get(self, rule_id: str) -> Rule | None:
        return self.by_id().get(rule_id)
