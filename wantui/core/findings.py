"""One way to build the Findings of the checks (arguments, dataset, model files, probe).

Each check used to carry its own near-identical constructor; they differ only in their
defaults (origin, steps, priority, location), which their callers now pass explicitly or
through thin wrappers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from wantui.core.check_ids import CheckSpec, check_spec
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding, Location, Severity
from wantui.core.fixactions import FixAction
from wantui.core.rules.template import render

# WANTUI_STRICT_IDS=1 (the test suite sets it): an undeclared id, a template name with
# no value or a fix the declaration does not offer is an error instead of a visible
# `<name>` in the text; users never see a check crash over its own wording
_STRICT = os.environ.get("WANTUI_STRICT_IDS") == "1"


def make_finding(
    rule: str,
    catalog: str,
    severity: Severity,
    title: str,
    message: str,
    *,
    origin: str,
    location: Location | None = None,
    fixes: Iterable[FixAction] | None = (),
    advice: Iterable[str] | None = (),
    captures: dict[str, str] | None = None,
    steps: tuple[str, ...] = ("any",),
    priority: int = 60,
) -> Finding:
    """A check's Finding (no log evidence); ``None`` fixes/advice mean none."""
    return Finding(
        rule=rule,
        catalog=catalog,
        severity=severity,
        title=title,
        message=message,
        location=location,
        fixes=list(fixes or ()),
        advice=list(advice or ()),
        captures=dict(captures or {}),
        steps=steps,
        priority=priority,
        origin=origin,
    )


def declared(rule_id: str) -> CheckSpec:
    """The declaration of a check id (rules/checks/<id>.yaml or a rule file's ``check:``)."""
    spec = check_spec(rule_id)
    if spec is None:
        raise WantuiError(f"finding id '{rule_id}' is not declared (rules/checks/{rule_id}.yaml)")
    return spec


def _fill(spec: CheckSpec, what: str, template: str, values: Mapping[str, str | None]) -> str:
    text, missing = render(template, values)
    if missing and _STRICT:
        raise WantuiError(
            f"{spec.id}: {what} names {sorted(missing)} with no value", path=spec.path
        )
    return text


def emit(
    rule: str,
    *,
    origin: str,
    location: Location | None = None,
    captures: Mapping[str, str] | None = None,
    text: Mapping[str, object] | None = None,
    fixes: Iterable[FixAction] | None = (),
    severity: Severity | None = None,
    steps: tuple[str, ...] | None = None,
    priority: int | None = None,
    catalog: str | None = None,
) -> Finding:
    """A check's Finding of a declared id: title, message and advice are the declaration's
    templates filled from ``captures`` (kept on the finding) and ``text`` (values for the
    wording only). An advice line applies ``when`` a value is set or ``unless`` it is, and
    one that comes out empty is left out. ``severity``/``steps``/``priority`` override
    the declared defaults where a check knows better (a step's own step, an escalation);
    ``catalog`` where one id covers several failures (a missing model file is the
    wrong-file failure of its role); ``steps=()`` is a finding of no step (a file every
    step reads)."""
    spec = declared(rule)
    values: dict[str, str | None] = {
        k: None if v is None else str(v) for k, v in (text or {}).items()
    }
    values.update(captures or {})
    found = list(fixes or ())
    if _STRICT:
        stray = sorted({f.action for f in found} - spec.actions)
        if stray:
            raise WantuiError(f"{spec.id}: fixes {stray} are not declared", path=spec.path)
    advice = [
        text
        for a in spec.advice
        if a.applies(values) and (text := _fill(spec, "advice", a.text, values)).strip()
    ]
    return make_finding(
        spec.id,
        catalog or spec.catalog,
        severity or spec.severity,
        _fill(spec, "title", spec.title, values),
        _fill(spec, "message", spec.message, values),
        origin=origin,
        location=location,
        fixes=found,
        advice=advice,
        captures=dict(captures or {}),
        steps=spec.steps if steps is None else steps,
        priority=spec.priority if priority is None else priority,
    )


class FindingList:
    """Collects a check's Findings in the order they are found."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def emit(self, rule: str, **kw: object) -> Finding:
        """Build a Finding of a declared id with :func:`emit`, keep it and return it."""
        finding = emit(rule, **kw)  # type: ignore[arg-type]
        self.findings.append(finding)
        return finding
