"""``wantui rules check`` as a library: load every rule, run every example log, and
report catalog ids with a log signature that no rule covers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wantui.core.catalog import CATALOG
from wantui.core.check_ids import all_check_specs
from wantui.core.errors import WantuiError
from wantui.core.logtext import iter_file_lines
from wantui.core.matcher import WRAPPER_ID, Matcher
from wantui.core.rules.loader import load_rules
from wantui.core.rules.model import RuleSet
from wantui.core.versions import describe as describe_versions

# Catalog ids that leave no trace a rule could match (docs/reference/failure-catalog.md says "none"/"no
# error"), plus the one the matcher itself produces.
# plan-mismatch: measured s/step against the plan, not a log wording
NO_LOG_SIGNATURE = frozenset(
    {"wan22-task-not-set", "tensorboard-missing", WRAPPER_ID, "plan-mismatch"}
)


@dataclass
class CheckReport:
    rules: int = 0
    examples_run: int = 0
    failures: list[str] = field(default_factory=list)  # one line each: file and what went wrong
    missing_examples: list[str] = field(default_factory=list)  # rule ids without pos or neg
    uncovered: list[str] = field(default_factory=list)  # catalog ids with no rule
    stray_examples: list[str] = field(default_factory=list)  # examples naming no rule
    problems: list[str] = field(default_factory=list)  # skipped user rules

    @property
    def ok(self) -> bool:
        return not (self.failures or self.uncovered or self.missing_examples or self.stray_examples)


def rules_in_example(path: Path, rules: RuleSet) -> set[str]:
    """Rule ids of every finding the example log produces (the whole rule set runs, as
    in real use, so rules interfere with each other as they would for a user)."""
    m = Matcher(rules, {"source": path.name})
    for line in iter_file_lines(path, keep=m.prefilter_bytes()):
        m.feed(line)
    m.finish()
    return {f.rule for f in m.findings()}


def check_rules(
    rules: RuleSet | None = None, *, examples_dirs: list[Path] | None = None, coverage: bool = True
) -> CheckReport:
    """Run every rule's examples; ``rules`` defaults to the built-in rules only."""
    rs = rules if rules is not None else load_rules(include_user=False)
    report = CheckReport(rules=len(rs.rules), problems=[str(p) for p in rs.problems])
    ids = {r.id for r in rs.rules}
    for rule in sorted(rs.rules, key=lambda r: r.id):
        pos, neg = rule.examples()
        if not pos or not neg:
            kinds = [k for k, v in (("positive", pos), ("negative", neg)) if not v]
            report.missing_examples.append(f"{rule.id}: no {' and no '.join(kinds)} example")
        for path, want in [*((p, True) for p in pos), *((n, False) for n in neg)]:
            report.examples_run += 1
            try:
                got = rule.id in rules_in_example(path, rs)
            except OSError as exc:
                report.failures.append(f"{path}: cannot read: {exc.strerror or exc}")
                continue
            if got != want:
                verb = "does not produce" if want else "wrongly produces"
                report.failures.append(f"{path}: {verb} a finding of rule {rule.id}")
    folders = {r.path.parent / "examples" for r in rs.rules if r.path is not None}
    for folder in [*folders, *(examples_dirs or [])]:
        if folder.is_dir():
            for f in sorted(folder.glob("*.log")):
                stem = f.name.split(".pos")[0].split(".neg")[0]
                if stem not in ids:
                    report.stray_examples.append(f"{f}: names no rule ('{stem}')")
    covered = {r.catalog for r in rs.rules}
    if coverage:  # only meaningful for the whole built-in rule base
        report.uncovered = sorted(set(CATALOG) - covered - NO_LOG_SIGNATURE)
        try:  # the checks' declarations ship with the built-in rules
            all_check_specs()
        except WantuiError as exc:
            report.failures.append(f"{exc.where()}: {exc.message}")
    return report


def explain_rule(rule_id: str, rules: RuleSet) -> str:
    """A human description of one rule: what it matches, what it says, what it fixes."""
    rule = rules.get(rule_id)
    if rule is None:
        from wantui.core.similar import suggestion

        raise WantuiError(f"no rule '{rule_id}'{suggestion(rule_id, [r.id for r in rules.rules])}")
    out = [
        f"{rule.id}: {rule.title}",
        f"  catalog: {rule.catalog}   severity: {rule.severity.value}   steps: {', '.join(rule.steps)}"
        f"   priority: {rule.priority}",
        f"  file: {rule.path}" + ("" if rule.builtin else " (user rule)"),
        "  triggers on a line matching any of:",
        *(f"    {p.source}" for p in rule.any),
    ]
    for label, pats in (
        (f"every one of these within {rule.window} lines:", rule.all),
        (f"then one of these within {rule.window} lines after:", rule.followed_by),
        (f"unless one of these is within {rule.window} lines:", rule.none),
    ):
        if pats:
            out.append(f"  {label}")
            out.extend(f"    {p.source}" for p in pats)
    if rule.caused_by:
        out.append(f"  a consequence of: {', '.join(rule.caused_by)}")
    out.append("  message:")
    out.extend(f"    {ln}" for ln in rule.message.strip().splitlines())
    if rule.advice:
        out.append("  advice:")
        out.extend(f"    - {a}" for a in rule.advice)
    if rule.fixes:
        out.append("  fixes:")
        out.extend(
            f"    * {fx.action} {fx.params}" + (f"  ({fx.label})" if fx.label else "")
            for fx in rule.fixes
        )
    pos, neg = rule.examples()
    out.append(f"  examples: {len(pos)} positive, {len(neg)} negative")
    if rule.musubi:
        out.append(f"  holds for: {describe_versions(rule.musubi)}")
    if rule.references:
        out.append("  references:")
        out.extend(f"    {r}" for r in rule.references)
    return "\n".join(out)
