"""Typed events from the supervisor to a sink it is given.

The TUI posts them as Textual messages, the CLI writes them, tests collect them. A sink
is either a callable taking one event or an object with ``emit(event)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class StepStarted:
    step: str
    argv: tuple[str, ...]
    pid: int | None
    pgid: int | None
    log_path: Path
    notes: tuple[str, ...] = ()  # e.g. why a Windows run was kept to one process


@dataclass(frozen=True)
class StepOutput:
    """Raw bytes from the step's log file, in order; at most one read chunk (64 KiB)."""

    step: str
    data: bytes


@dataclass(frozen=True)
class StepExited:
    step: str
    returncode: int | None  # None: it never started or the code is unknown
    signal: int | None = None  # the signal that killed it, if any
    message: str | None = None  # why it could not start, or other context
    unknown: bool = False  # it ended after the runner died: nobody saw how
    stopped: bool = False  # ended by a stop request (s in the app, `wantui run --stop`)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True)
class StepSkipped:
    step: str
    reason: str


@dataclass(frozen=True)
class RunNotice:
    """Something the user should see that is not step output (a deleted log file...)."""

    text: str
    step: str | None = None
    level: str = "warning"  # info | warning | error


@dataclass(frozen=True)
class RunFinished:
    status: str  # succeeded | failed | stopped | lost
    run_id: str = ""
    message: str | None = None


Event = StepStarted | StepOutput | StepExited | StepSkipped | RunNotice | RunFinished


@runtime_checkable
class SinkObject(Protocol):
    def emit(self, event: Event) -> None: ...


Sink = Callable[[Event], None] | SinkObject


def emit(sink: Sink | None, event: Event) -> None:
    """Deliver one event to a sink of either shape (None drops it)."""
    if sink is None:
        return
    if isinstance(sink, SinkObject):
        sink.emit(event)
    else:
        sink(event)


@dataclass
class CollectingSink:
    """A thread-safe sink that keeps every event (for tests and simple callers)."""

    events: list[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type) -> list:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def output(self, step: str | None = None) -> bytes:
        """All StepOutput bytes, optionally for one step."""
        return b"".join(e.data for e in self.of(StepOutput) if step is None or e.step == step)
