"""The one vocabulary of wantui: a Finding.

The log matcher, the dataset and argument checks, model inspection and the environment
probe all produce Findings; the CLI prints them, the TUI shows them, the fix engine
applies their fixes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from wantui.core.fixactions import FixAction


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True)
class Evidence:
    """One line of evidence: its original 1-based line number and its normalised text.

    ``ranks`` lists the ``[rankN]:`` prefixes this line was seen with (multi-process
    runs print one failure once per rank; it stays one piece of evidence).
    """

    line: int
    text: str
    source: str | None = None
    ranks: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "text": self.text}
        if self.source is not None:
            out["source"] = self.source
        if self.ranks:
            out["ranks"] = list(self.ranks)
        return out


@dataclass(frozen=True)
class Location:
    """Where in an input file a check found a problem (1-based line and column)."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        out = self.path
        if self.line is not None:
            out += f":{self.line}"
            if self.column is not None:
                out += f":{self.column}"
        return out

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column}


@dataclass
class Finding:
    rule: str  # rule id (log rules) or check id (preflight checks)
    catalog: str  # failure-catalog id
    severity: Severity
    title: str
    message: str  # the explanation, with captures and context filled in
    evidence: list[Evidence] = field(default_factory=list)
    captures: dict[str, str] = field(default_factory=dict)
    fixes: list[FixAction] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)  # human fix steps
    steps: tuple[str, ...] = ()  # pipeline steps concerned: latents, te, train, any
    priority: int = 50  # higher = more likely the root cause
    origin: str = "log"  # log | check | model | probe | run
    location: Location | None = None
    references: list[str] = field(default_factory=list)
    consequence_of: str | None = None  # rule id of the root cause this follows from
    # the traceback anatomy (wantui/core/traceback_anatomy.py) of a failure no rule
    # explains: exception, chain, innermost frame and owner, files named
    anatomy: dict[str, Any] | None = None

    @property
    def lines(self) -> list[int]:
        return [e.line for e in self.evidence]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "catalog": self.catalog,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "lines": self.lines,
            "captures": dict(self.captures),
            "fixes": [f.to_json() for f in self.fixes],
            "advice": list(self.advice),
            "evidence": [e.to_json() for e in self.evidence],
            "steps": list(self.steps),
            "priority": self.priority,
            "origin": self.origin,
            "location": self.location.to_json() if self.location else None,
            "references": list(self.references),
            "consequence_of": self.consequence_of,
            **({"anatomy": self.anatomy} if self.anatomy is not None else {}),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Finding:
        """A Finding back from its :meth:`to_json` form (``--json`` output, a run's
        findings.jsonl). Raises ValueError naming what is wrong."""
        try:
            loc = obj.get("location")
            return cls(
                rule=str(obj.get("rule", "")),
                catalog=str(obj.get("catalog", "")),
                severity=Severity(obj.get("severity", "error")),
                title=str(obj.get("title", "")),
                message=str(obj.get("message", "")),
                evidence=[
                    Evidence(
                        int(e["line"]),
                        str(e["text"]),
                        str(e["source"]) if e.get("source") is not None else None,
                        tuple(int(r) for r in e.get("ranks") or ()),
                    )
                    for e in obj.get("evidence") or []
                ],
                captures={str(k): str(v) for k, v in (obj.get("captures") or {}).items()},
                fixes=[
                    FixAction(
                        f["action"],
                        dict(f.get("params") or {}),
                        f.get("label", ""),
                        bool(f.get("auto", True)),
                    )
                    for f in obj.get("fixes") or []
                ],
                advice=[str(a) for a in obj.get("advice") or []],
                steps=tuple(str(x) for x in obj.get("steps") or ()),
                priority=int(obj.get("priority", 50)),
                origin=str(obj.get("origin", "log")),
                location=Location(loc["path"], loc.get("line"), loc.get("column"))
                if isinstance(loc, dict)
                else None,
                references=[str(r) for r in obj.get("references") or []],
                consequence_of=obj.get("consequence_of")
                if isinstance(obj.get("consequence_of"), str)
                else None,
                anatomy=obj["anatomy"] if isinstance(obj.get("anatomy"), dict) else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a finding: {exc}") from None


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Root causes first: consequences last, then severity, then priority, then position."""
    return sorted(
        findings,
        key=lambda f: (
            f.consequence_of is not None,
            -f.severity.rank,
            -f.priority,
            f.lines[0] if f.lines else 0,
        ),
    )


def exit_code_for(findings: list[Finding]) -> int:
    """0 when nothing is at error severity, else 1 (see ExitCode)."""
    return 1 if any(f.severity is Severity.ERROR for f in findings) else 0
