"""What argparse makes of one step's arguments, and where a step's findings go."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wantui.core.args.catalog import accelerate_options
from wantui.core.finding import Finding, Location, Severity
from wantui.core.findings import FindingList


@dataclass
class ArgState:
    """What argparse would make of a step's arguments: last value per option."""

    step: str
    values: dict[str, list[str]] = field(
        default_factory=dict
    )  # canonical name -> values (last wins)
    written: dict[str, str] = field(default_factory=dict)  # canonical name -> the token as typed
    counts: dict[str, int] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> str | None:
        vals = self.values.get(name)
        return vals[0] if vals else None

    def flag(self, name: str) -> str:
        """The flag as the user wrote it (fixes must find it in the argv)."""
        return self.written.get(name, name)


class StepFindings(FindingList):
    """A step's findings: origin "check", the step captured and in ``steps`` (launcher
    options belong to training), the command's location."""

    def __init__(self, step: str, location: Location | None) -> None:
        super().__init__()
        self.step = step
        self.location = location

    def add(  # type: ignore[override]
        self,
        rule: str,
        catalog: str,
        severity: Severity,
        title: str,
        message: str,
        *,
        captures: dict[str, str] | None = None,
        step: str | None = None,
        **kw: Any,
    ) -> Finding:
        """A finding of ``step`` (default: this list's step); ``kw``: fixes, advice, priority."""
        step = step or self.step
        return super().add(
            rule,
            catalog,
            severity,
            title,
            message,
            origin="check",
            location=self.location,
            captures={"step": step, **(captures or {})},
            steps=(step,) if step != "launch" else ("train",),
            **kw,
        )


def launch_value(launch_args: list[str], flag: str) -> str | None:
    """The last value accelerate launch would take for ``flag`` (prefixes resolved)."""
    opts = accelerate_options()
    value = None
    i = 0
    while i < len(launch_args):
        tok = launch_args[i]
        name, eq, inline = tok.partition("=")
        spec = opts.get(name)
        if spec is not None and spec.name == flag:
            if eq:
                value = inline
            elif i + 1 < len(launch_args):
                value = launch_args[i + 1]
                i += 1
        i += 1
    return value


def multi_process(launch_args: list[str]) -> bool:
    """Does accelerate launch start more than one process?"""
    n = launch_value(launch_args, "--num_processes")
    return "--multi_gpu" in launch_args or (n is not None and n.isdigit() and int(n) > 1)
