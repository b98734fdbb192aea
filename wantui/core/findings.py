"""One way to build the Findings of the checks (arguments, dataset, model files, probe).

Each check used to carry its own near-identical constructor; they differ only in their
defaults (origin, steps, priority, location), which their callers now pass explicitly or
through thin wrappers.
"""

from __future__ import annotations

from collections.abc import Iterable

from wantui.core.finding import Finding, Location, Severity
from wantui.core.fixactions import FixAction


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


class FindingList:
    """Collects a check's Findings in the order they are found."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(
        self,
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
        """Build a Finding with :func:`make_finding`, keep it and return it."""
        finding = make_finding(
            rule,
            catalog,
            severity,
            title,
            message,
            origin=origin,
            location=location,
            fixes=fixes,
            advice=advice,
            captures=captures,
            steps=steps,
            priority=priority,
        )
        self.findings.append(finding)
        return finding
