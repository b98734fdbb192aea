"""One registry of finding ids: the log rules and the checks' declarations, side by side.

``wantui rules list`` and ``rules explain``, and the README's table
(``scripts/rules_table.py``), read it, so every id a user can meet in wantui's output is
listed and explained in one place, whichever part of wantui emits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wantui.core.check_ids import CheckSpec, all_check_specs
from wantui.core.errors import WantuiError
from wantui.core.finding import Severity
from wantui.core.rules.model import Rule, RuleSet


@dataclass(frozen=True)
class Entry:
    """One finding id: its log rule, its check declaration, or both."""

    rule: Rule | None
    check: CheckSpec | None

    @property
    def id(self) -> str:
        return self.rule.id if self.rule else self.check.id  # type: ignore[union-attr]

    @property
    def catalog(self) -> str:
        return self.rule.catalog if self.rule else self.check.catalog  # type: ignore[union-attr]

    @property
    def severity(self) -> Severity:
        return self.rule.severity if self.rule else self.check.severity  # type: ignore[union-attr]

    @property
    def title(self) -> str:
        return self.rule.title if self.rule else self.check.title  # type: ignore[union-attr]

    @property
    def steps(self) -> tuple[str, ...]:
        return self.rule.steps if self.rule else self.check.steps  # type: ignore[union-attr]

    @property
    def priority(self) -> int:
        return self.rule.priority if self.rule else self.check.priority  # type: ignore[union-attr]

    @property
    def path(self) -> Path | None:
        return self.rule.path if self.rule else self.check.path  # type: ignore[union-attr]

    @property
    def builtin(self) -> bool:
        return self.rule.builtin if self.rule else True

    @property
    def found_by(self) -> str:
        """Where the id comes from: ``log``, ``check`` or ``log, check``."""
        return ", ".join(k for k, v in (("log", self.rule), ("check", self.check)) if v)


def entries(rules: RuleSet, *, checks: bool = True) -> list[Entry]:
    """Every id of ``rules`` and (with ``checks``) of the built-in check declarations,
    ordered by catalog id, then id."""
    specs = {s.id: s for s in all_check_specs()} if checks else {}
    out = [Entry(r, specs.pop(r.id, None)) for r in rules.rules]
    out += [Entry(None, s) for s in specs.values()]
    return sorted(out, key=lambda e: (e.catalog, e.id))


def _cell(text: str) -> str:
    """One Markdown table cell: no pipe or newline may break the row."""
    return " ".join(text.replace("|", "\\|").split())


def markdown_table(found: list[Entry]) -> str:
    """The Markdown table of ``found`` (``rules list --markdown``, the README)."""
    rows = sorted(found, key=lambda e: (e.catalog, -e.priority, e.id))
    lines = [
        "| id | catalog | severity | found by | steps | title |",
        "|---|---|---|---|---|---|",
    ]
    for e in rows:
        lines.append(
            f"| `{e.id}` | `{e.catalog}` | {e.severity.value} | {e.found_by} "
            f"| {', '.join(e.steps)} | {_cell(e.title)} |"
        )
    return "\n".join(lines)


def explain_check(spec: CheckSpec, *, also: bool = False) -> list[str]:
    """The lines ``rules explain`` shows for a check declaration (``also``: after the
    log rule of the same id)."""
    head = (
        ["  before a run, the " + spec.area + " checks report it as:", f"    {spec.title}"]
        if also
        else [
            f"{spec.id}: {spec.title}",
            f"  catalog: {spec.catalog}   severity: {spec.severity.value}   steps: "
            f"{', '.join(spec.steps)}   priority: {spec.priority}",
            f"  file: {spec.path}",
            f"  found before a run by the {spec.area} checks (not from a log)",
        ]
    )
    pad = "    " if also else "  "
    out = [*head, f"{pad}message:"]
    out += [f"{pad}  {ln}" for ln in spec.message.strip().splitlines()]
    if spec.advice:
        out.append(f"{pad}advice:")
        for a in spec.advice:
            cond = f" (when {a.when})" if a.when else f" (unless {a.unless})" if a.unless else ""
            out.append(f"{pad}  - {a.text}{cond}")
    if spec.fixes:
        out.append(f"{pad}fixes:")
        out += [f"{pad}  * {f.action}" + (f"  ({f.label})" if f.label else "") for f in spec.fixes]
    if spec.examples:
        out.append(f"{pad}examples:")
        out += [f"{pad}  {x}" for x in spec.examples]
    if spec.references and not also:
        out.append("  references:")
        out += [f"    {r}" for r in spec.references]
    return out


def explain(rule_id: str, rules: RuleSet) -> str:
    """A human description of one finding id, whatever emits it."""
    from wantui.core.rules.check import explain_rule  # the log side

    entry = next((e for e in entries(rules) if e.id == rule_id), None)
    if entry is None:
        from wantui.core.similar import suggestion

        known = [e.id for e in entries(rules)]
        raise WantuiError(f"no rule or check '{rule_id}'{suggestion(rule_id, known)}")
    if entry.rule is None:
        return "\n".join(explain_check(entry.check))  # type: ignore[arg-type]
    text = explain_rule(rule_id, rules)
    if entry.check is not None:
        text += "\n" + "\n".join(explain_check(entry.check, also=True))
    return text
