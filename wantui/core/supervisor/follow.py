"""Follow a run from its files: ``run.json`` for state, the step logs for output.

Works the same for a running run (attach, the TUI) and a finished one (replay of what
was written). Read-only: it never takes the project lock and never writes.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from wantui.core.errors import WantuiError
from wantui.core.supervisor.events import (
    RunFinished,
    RunNotice,
    Sink,
    StepExited,
    StepOutput,
    StepSkipped,
    StepStarted,
    emit,
)
from wantui.core.supervisor.rundir import (
    ACTIVE,
    RunRecord,
    StepRecord,
    effective_status,
    read_record,
)

CHUNK = 64 * 1024
ENDED = ("succeeded", "failed", "stopped")


@dataclass
class _Tail:
    fh: BinaryIO | None = None
    inode: int | None = None
    offset: int = 0
    warned_missing: bool = False


class _Waiter:
    """Wait for a change in the run folder: inotify & co. through watchfiles, or polling."""

    def __init__(self, run_dir: Path, poll: float, stop_event: threading.Event | None) -> None:
        self.poll = poll
        self._gen = None
        self._stop = stop_event
        try:
            import watchfiles

            self._gen = watchfiles.watch(
                run_dir,
                debounce=20,
                step=20,
                rust_timeout=int(poll * 1000),
                yield_on_timeout=True,
                stop_event=stop_event,
                raise_interrupt=True,
            )
        except Exception:  # noqa: BLE001 - no watcher (old kernel, inotify limit): poll
            self._gen = None

    def wait(self) -> None:
        if self._gen is not None:
            try:
                next(self._gen)
                return
            except StopIteration:
                self._gen = None
                return
            except Exception:  # noqa: BLE001 - watcher died: fall back to polling
                self._gen = None
        if self._stop is not None:
            self._stop.wait(self.poll)
        else:
            time.sleep(self.poll)

    def close(self) -> None:
        if self._gen is not None:
            with contextlib.suppress(Exception):
                self._gen.close()


class _Follower:
    def __init__(self, run_dir: Path, sink: Sink, from_start: bool) -> None:
        self.run_dir = run_dir
        self.sink = sink
        self.from_start = from_start
        self.tails: dict[str, _Tail] = {}
        self.started: set[str] = set()
        self.exited: set[str] = set()
        self.skipped: set[str] = set()
        self.skip_history: set[str] = set()
        self.first_look = True

    def drain(self, step: StepRecord) -> bool:
        """Emit new bytes of a step's log; True when something was read."""
        if not step.log:
            return False
        tail = self.tails.setdefault(step.name, _Tail())
        path = self.run_dir / step.log
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if st is None:
            # pid set: the step really started, so its log existed and was deleted
            if not tail.warned_missing and (tail.fh is not None or step.pid is not None):
                tail.warned_missing = True
                kept = " (this view keeps reading the still-open file)" if tail.fh else ""
                emit(
                    self.sink,
                    RunNotice(
                        f"log file deleted: {path}; the step goes on but its output is no longer kept{kept}",
                        step=step.name,
                    ),
                )
        elif tail.fh is None or st.st_ino != tail.inode:
            if tail.fh is not None:
                emit(
                    self.sink,
                    RunNotice(
                        f"log file replaced: {path}; reading the new file from its start",
                        step=step.name,
                    ),
                )
                tail.fh.close()
            try:
                tail.fh = open(path, "rb")  # noqa: SIM115 - kept open across calls on purpose
            except OSError as exc:
                emit(
                    self.sink,
                    RunNotice(
                        f"cannot read log {path}: {exc.strerror}", step=step.name, level="error"
                    ),
                )
                return False
            tail.inode, tail.offset, tail.warned_missing = st.st_ino, 0, False
            if step.name in self.skip_history:
                tail.offset = st.st_size  # attach "from now": skip what came before
            tail.fh.seek(tail.offset)
        elif st.st_size < tail.offset:
            emit(
                self.sink,
                RunNotice(
                    f"log file truncated: {path}; reading it again from its start", step=step.name
                ),
            )
            tail.offset = 0
            tail.fh.seek(0)
        if tail.fh is None:
            return False
        got = False
        while True:
            data = tail.fh.read(CHUNK)
            if not data:
                break
            got = True
            tail.offset += len(data)
            emit(self.sink, StepOutput(step.name, data))
        return got

    def close_step(self, name: str) -> None:
        tail = self.tails.get(name)
        if tail is not None and tail.fh is not None:
            tail.fh.close()
            tail.fh = None

    def step_events(self, rec: RunRecord) -> bool:
        got = False
        if self.first_look:
            self.first_look = False
            if not self.from_start:
                self.skip_history = {s.name for s in rec.steps if s.started}
        for step in rec.steps:
            if step.state == "skipped" and step.name not in self.skipped:
                self.skipped.add(step.name)
                emit(self.sink, StepSkipped(step.name, step.skip_reason or "caches exist"))
                continue
            if step.started and step.name not in self.started:
                self.started.add(step.name)
                emit(
                    self.sink,
                    StepStarted(
                        step.name,
                        tuple(step.argv),
                        step.pid,
                        step.pgid,
                        self.run_dir / step.log,
                        tuple(step.notes),
                    ),
                )
            if step.name in self.started and step.name not in self.exited:
                got |= self.drain(step)
                if step.state in ENDED:
                    got |= self.drain(step)  # whatever landed between the two reads
                    self.exited.add(step.name)
                    self.close_step(step.name)
                    emit(
                        self.sink,
                        StepExited(
                            step.name,
                            step.returncode,
                            step.signal,
                            step.message,
                            stopped=step.state == "stopped",
                        ),
                    )
        return got


def follow_run(
    run_dir: str | os.PathLike[str],
    sink: Sink,
    *,
    from_start: bool = True,
    stop_when_done: bool = True,
    poll: float = 0.25,
    stop_event: threading.Event | None = None,
) -> RunRecord:
    """Emit the run's events to ``sink`` until it ends (or ``stop_event`` is set).

    Call it from a worker thread in a UI; the sink is called from that thread.
    """
    run_dir = Path(run_dir)
    follower = _Follower(run_dir, sink, from_start)
    waiter = _Waiter(run_dir, poll, stop_event)
    finished_sent = False
    orphans_told: set[str] = set()
    rec = read_record(run_dir)
    try:
        while True:
            try:
                rec = read_record(run_dir)
            except WantuiError as exc:
                emit(sink, RunNotice(f"{exc}; stopped following", level="error"))
                return rec
            got = follower.step_events(rec)
            status = effective_status(rec)
            if status not in (rec.status, "lost"):
                continue  # the runner finished just after our read: take its final record
            orphans = _orphaned_steps(rec, follower) if status == "lost" else []
            for step in orphans:
                if step.name not in orphans_told:  # the training goes on: not a failure
                    orphans_told.add(step.name)
                    emit(
                        sink,
                        RunNotice(
                            f"wantui's runner died, but step {step.name} is still running"
                            f" (pid {step.pid}); its output is followed, its exit status"
                            " cannot be recorded; stop it with `wantui run --stop`",
                            level="warning",
                            step=step.name,
                        ),
                    )
            if status not in ACTIVE and not orphans:
                if not finished_sent:
                    for step in rec.steps:  # a runner that died leaves steps unfinished
                        if step.name in follower.started and step.name not in follower.exited:
                            follower.drain(step)
                            follower.exited.add(step.name)
                            follower.close_step(step.name)
                            unknown = step.returncode is None and step.signal is None
                            emit(
                                sink,
                                StepExited(
                                    step.name,
                                    step.returncode,
                                    step.signal,
                                    step.message
                                    or "the runner died before the step ended; its exit"
                                    " status is unknown",
                                    unknown=unknown,
                                ),
                            )
                    message = rec.message
                    if status == "lost":
                        message = (
                            message
                            or "the runner process died without recording the end of the run"
                        )
                    emit(sink, RunFinished(status, rec.run_id, message))
                    finished_sent = True
                if stop_when_done:
                    return rec
            if stop_event is not None and stop_event.is_set():
                return rec
            if not got:
                waiter.wait()
    finally:
        waiter.close()
        for name in list(follower.tails):
            follower.close_step(name)


def _orphaned_steps(rec: RunRecord, follower: _Follower) -> list[StepRecord]:
    """Steps of a lost run (its runner died) that still run, verified to be the run's."""
    from wantui.core.supervisor.procs import step_processes

    out = []
    for step in rec.steps:
        if step.state == "running" and step.name not in follower.exited:
            group_ok, tree = step_processes(rec, step)
            if group_ok or tree:
                out.append(step)
    return out
