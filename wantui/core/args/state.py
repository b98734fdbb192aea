"""What argparse makes of one step's arguments, and where a step's findings go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wantui.core.args.options import ArgView, launch_view
from wantui.core.finding import Finding, Location
from wantui.core.findings import FindingList


@dataclass
class ArgState(ArgView):
    """What argparse makes of a step's arguments (the command model's view) and the step."""

    step: str = ""

    @classmethod
    def of(cls, step: str, view: ArgView) -> ArgState:
        return cls(
            args=view.args,
            occurrences=view.occurrences,
            stray=view.stray,
            values=view.values,
            written=view.written,
            counts=view.counts,
            opts=view.opts,
            step=step,
        )


class StepFindings(FindingList):
    """A step's findings: origin "check", the step captured and in ``steps`` (launcher
    options belong to training), the command's location."""

    def __init__(self, step: str, location: Location | None) -> None:
        super().__init__()
        self.step = step
        self.location = location

    def emit(  # type: ignore[override]
        self,
        rule: str,
        *,
        captures: dict[str, str] | None = None,
        step: str | None = None,
        **kw: Any,
    ) -> Finding:
        """A finding of a declared id for ``step`` (default: this list's step); ``kw`` as
        for ``findings.emit`` (text, fixes, severity, priority)."""
        step = step or self.step
        return super().emit(
            rule,
            origin="check",
            location=self.location,
            captures={"step": step, **(captures or {})},
            steps=(step,) if step != "launch" else ("train",),
            **kw,
        )


def launch_value(launch_args: list[str], flag: str) -> str | None:
    """The last value accelerate launch would take for ``flag`` (prefixes resolved)."""
    return launch_view(launch_args).get(flag)


def multi_process(launch_args: list[str]) -> bool:
    """Does accelerate launch start more than one process?"""
    view = launch_view(launch_args)
    n = view.int("--num_processes")
    return view.has("--multi_gpu") or (n is not None and n > 1)
