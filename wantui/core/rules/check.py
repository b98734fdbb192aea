"""``wantui rules check`` as a library: load every rule, run every example log, and
report catalog ids with a log signature that no rule covers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wantui.core.catalog import CATALOG
from wantui.core.check_ids import all_check_specs
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding
from wantui.core.logtext import Normalizer, normalize_text
from wantui.core.matcher import WRAPPER_ID, Matcher
from wantui.core.rules.examples import MATCH, NOMATCH, MarkedLog, read_marked_log
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


def example_findings(example: MarkedLog, rules: RuleSet) -> list[Finding]:
    """The ranked findings of an example log (its markers removed). The whole rule set
    runs, as in real use, so rules interfere with each other as they would for a user."""
    verdict = example.verdict or {}
    m = Matcher(rules, {"source": example.path.name})
    n = Normalizer(prefilter=m.prefilter())
    for line in [*n.feed(example.data), *n.close()]:
        m.feed(line)
    m.finish(verdict.get("exit_status"))
    return m.findings()


def expectation_failures(example: MarkedLog, findings: list[Finding]) -> list[str]:
    """What the example's ``#=MATCH=#``/``#=NOMATCH=#`` markers expect and the findings
    do not give, one line each, naming the file and the marker's line."""
    out: list[str] = []
    where = str(example.path)
    texts: dict[int, set[str]] = {}
    if example.matches:
        for ln in normalize_text(example.data):
            texts.setdefault(ln.number, set()).add(ln.text)
    for exp in example.matches:
        mine = [f for f in findings if f.rule == exp.rule]
        at = [
            f
            for f in mine
            if any(e.line == exp.line and e.text in texts.get(exp.line, ()) for e in f.evidence)
        ]
        if not mine:
            out.append(f"{where}:{exp.marker_line}: does not produce a finding of rule {exp.rule}")
        elif not at:
            lines = sorted({e.line for f in mine for e in f.evidence})
            out.append(
                f"{where}:{exp.marker_line}: rule {exp.rule} does not fire on line {exp.line} "
                f"of the log (its evidence: lines {', '.join(map(str, lines)) or 'none'})"
            )
        elif not any(all(f.captures.get(k) == v for k, v in exp.captures.items()) for f in at):
            got = at[0].captures
            bad = next(k for k, v in exp.captures.items() if got.get(k) != v)
            out.append(
                f"{where}:{exp.marker_line}: rule {exp.rule} captures {bad}="
                f"{got.get(bad)!r}, not {exp.captures[bad]!r}"
            )
    fired = {f.rule for f in findings}
    for rule in example.nomatches:
        if rule in fired:
            out.append(
                f"{where}:{example.nomatch_lines[rule]}: wrongly produces a finding of rule {rule}"
            )
    return out


def check_rules(
    rules: RuleSet | None = None, *, examples_dirs: list[Path] | None = None, coverage: bool = True
) -> CheckReport:
    """Run every example log beside the rules (and in ``examples_dirs``) against the
    whole rule set; ``rules`` defaults to the built-in rules only."""
    rs = rules if rules is not None else load_rules(include_user=False)
    report = CheckReport(rules=len(rs.rules), problems=[str(p) for p in rs.problems])
    ids = {r.id for r in rs.rules}
    folders = {r.path.parent / "examples" for r in rs.rules if r.path is not None}
    pos: set[str] = set()
    neg: set[str] = set()
    for folder in sorted({*folders, *(examples_dirs or [])}):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.log")):
            try:
                example = read_marked_log(path)
            except WantuiError as exc:
                report.failures.append(str(exc))
                continue
            if not example.marked:
                report.stray_examples.append(
                    f"{path}: no {MATCH} or {NOMATCH} marker says which rule it is an example "
                    "of (rules/FORMAT.md, Examples)"
                )
                continue
            named = sorted((example.positive | example.negative) - ids)
            if named:
                report.stray_examples.append(f"{path}: names no rule ('{named[0]}')")
            pos |= example.positive
            neg |= example.negative
            report.examples_run += 1
            report.failures.extend(expectation_failures(example, example_findings(example, rs)))
    for rule in sorted(rs.rules, key=lambda r: r.id):
        kinds = [
            k
            for k, have in (("positive", rule.id in pos), ("negative", rule.id in neg))
            if not have
        ]
        if kinds:
            report.missing_examples.append(f"{rule.id}: no {' and no '.join(kinds)} example")
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
