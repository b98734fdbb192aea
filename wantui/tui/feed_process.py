"""The run model in its own process: following, normalising and matching off the UI's GIL.

A flood (200,000 lines/s) costs the diagnosis ~20 µs a line; in the UI process that work
competes with key presses for the GIL. Here a child interpreter
(``python -m wantui.tui.feed_process``) runs the source (the supervisor's follower, or a
replay) into an ordinary :class:`~wantui.tui.feed.Feed` and every ``FLUSH_S`` sends what
changed (one bounded :class:`~wantui.tui.feed.Batch`: display lines, the newest progress
state only, new findings, step states) over its stdout. The UI process only unpickles a
few small messages a second and draws.

:class:`ProcessFeed` is what the pipeline screen sees: the same attributes and ``drain``
as a Feed, plus ``run_source(source)`` (blocks in a worker thread until the child ends)
and ``close``. Closing the child's stdin stops it; it also stops when the UI dies.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from wantui.core.finding import Finding, sort_findings
from wantui.core.project import STEP_NAMES
from wantui.tui.feed import Batch, Feed, StepState, StepStatus

FLUSH_S = 0.1
_HEADER = struct.Struct("!I")
MAX_MESSAGE = 256 * 1024 * 1024  # a corrupt length must not make the UI allocate forever


# -- the child ------------------------------------------------------------------------------
def source_from_spec(spec: dict[str, Any]) -> Any:
    """The source a spec describes (what ``LiveSource.spec``/``ReplaySource.spec`` wrote)."""
    from wantui.tui.sources import ReplayPlan, ReplaySource, ReplayStep

    if spec["kind"] == "replay":
        plan = ReplayPlan(
            steps=[ReplayStep(s, Path(p), rc) for s, p, rc in spec["steps"]],
            status=spec.get("status"),
            label=spec.get("label", ""),
        )
        return ReplaySource(plan, **spec.get("options", {}))
    if spec["kind"] == "live":
        return _Follow(Path(spec["run_dir"]))
    raise ValueError(f"unknown source kind {spec['kind']!r}")


class _Follow:
    """The supervisor's follower for one run folder, stoppable."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._stop = threading.Event()

    def run(self, sink: Any) -> None:
        from wantui.core import supervisor

        supervisor.follow_run(self.run_dir, sink, stop_event=self._stop)

    def stop(self) -> None:
        self._stop.set()


def _touched(st: StepStatus) -> bool:
    return st.state is not StepState.PENDING or st.lines > 0 or bool(st.note)


def _send(out: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def worker_main() -> int:
    """The child: read one JSON spec line on stdin, run it, stream batches on stdout."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    if hasattr(os, "nice"):
        # on a busy box the UI (key presses, drawing) goes first; the backlog waits on disk
        os.nice(5)  # a stray print must not corrupt the stream
    line = b""
    while not line.endswith(b"\n"):  # unbuffered: a reader thread blocked at exit aborts
        chunk = os.read(0, 1)
        if not chunk:
            break
        line += chunk
    spec = json.loads(line or b"{}")
    planned = spec.get("planned_sec")
    feed = Feed(
        tuple(spec.get("steps") or STEP_NAMES),
        max_lines=spec.get("max_lines", 5000),
        planned_sec=float(planned) if isinstance(planned, (int, float)) and planned > 0 else None,
    )
    feed.max_duty = 1.0  # its own process: nobody here waits for the GIL
    source = source_from_spec(spec["source"])
    done = threading.Event()

    def play() -> None:
        try:
            source.run(feed)
        except Exception as exc:  # said on screen, never a silent stop
            from wantui.core.supervisor import RunNotice

            feed.emit(RunNotice(f"following the run failed: {exc}", level="error"))
        finally:
            done.set()

    def watch_parent() -> None:
        while os.read(0, 4096):  # EOF: the UI closed us, or died
            pass
        source.stop()
        done.set()

    threading.Thread(target=play, daemon=True).start()
    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        while True:
            finished = done.wait(FLUSH_S)
            batch = feed.drain()
            if not batch.empty():
                with feed._lock:  # noqa: SLF001 - a consistent snapshot of the states
                    # copies: the source thread goes on changing the live objects
                    states = {n: replace(st) for n, st in feed.steps.items() if _touched(st)}
                _send(out, (batch, states, feed.diagnosis_available))
            if finished:  # the drain above came after the source's last event
                return 0
    except (BrokenPipeError, OSError):
        source.stop()
        return 0


def play(source: Any, feed: Any) -> None:
    """Run ``source`` into ``feed``: in a child process when the feed is a ProcessFeed."""
    runner = getattr(feed, "run_source", None)
    if runner is not None and hasattr(source, "spec"):
        runner(source)
    else:
        source.run(feed)


# -- the UI side ----------------------------------------------------------------------------
def _read_exact(fh: IO[bytes], n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = fh.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class ProcessFeed:
    """A Feed whose work runs in a child process (see the module docstring)."""

    def __init__(
        self,
        steps: tuple[str, ...] = STEP_NAMES,
        *,
        max_lines: int = 5000,
        python: str | None = None,
    ) -> None:
        self.max_lines = max_lines
        self.max_losses = 2000
        self.python = python or sys.executable
        self.steps = {s: StepStatus(s) for s in steps}
        self.findings: list[Finding] = []
        self._sent: list[Finding] = []  # the child's findings in the order it sent them
        self.loss_history: dict[str, list[float]] = {s: [] for s in steps}
        self.last_progress: dict[str, Any] = {}
        self.finished: str | None = None
        self._diag_ok: bool | None = None
        self._shown = {s: 0 for s in steps}  # display lines received per step
        self._lock = threading.Lock()
        self._batch = Batch()
        self._child: subprocess.Popen[bytes] | None = None
        self.planned_sec: float | None = None  # `wantui plan`'s s/step for the live run

    @property
    def diagnosis_available(self) -> bool:
        # the child says (its rules may be invalid); until it has, nothing says otherwise
        return self._diag_ok is not False

    # -- the child ----------------------------------------------------------------------
    def run_source(self, source: Any) -> None:
        """Run ``source`` in a child process and merge what it sends until it ends."""
        self.close()
        self._sent = []  # a new child numbers its findings from 0
        described = source.spec()
        if described is None:
            return  # nothing to follow yet (no run started)
        spec = {
            "steps": list(self.steps),
            "max_lines": self.max_lines,
            "source": described,
            "planned_sec": self.planned_sec,
        }
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # the child imports the same wantui as this process, installed or not
        root = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        child = subprocess.Popen(
            [self.python, "-m", "wantui.tui.feed_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._child = child
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(spec).encode() + b"\n")
        child.stdin.flush()
        errors: list[bytes] = []
        err_reader = threading.Thread(
            target=lambda: errors.append(child.stderr.read()[-4000:]),  # type: ignore[union-attr]
            daemon=True,
        )
        err_reader.start()
        while True:
            head = _read_exact(child.stdout, _HEADER.size)
            if head is None:
                break
            (size,) = _HEADER.unpack(head)
            body = _read_exact(child.stdout, size) if size <= MAX_MESSAGE else None
            if body is None:
                break
            self._merge(*pickle.loads(body))
        code = child.wait()
        err_reader.join(2)
        if code != 0 and child is self._child:
            tail = b"".join(errors).decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            with self._lock:
                self._batch.notices.append(f"live diagnosis stopped (exit {code}): {tail[0]}")

    def close(self) -> None:
        """Stop the child (closing its stdin); it exits within one flush."""
        child, self._child = self._child, None
        if child is None or child.poll() is not None:
            return
        try:
            child.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        deadline = time.monotonic() + 2
        while child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if child.poll() is None:
            child.kill()

    stop = close

    def _merge(self, batch: Batch, states: dict[str, StepStatus], diag_ok: bool) -> None:
        with self._lock:
            self._diag_ok = diag_ok
            if states:  # a new dict: the UI thread may be iterating the old one
                self.steps = {**self.steps, **states}
            for step, lines in batch.lines.items():
                self._shown[step] = self._shown.get(step, 0) + len(lines)
            for step, dropped in batch.dropped.items():
                self._shown[step] = self._shown.get(step, 0) + dropped
            self._batch.merge(batch, self._shown, self.max_lines)
            self.last_progress.update(batch.progress)
            for step, losses in batch.losses.items():
                hist = self.loss_history.setdefault(step, [])
                hist.extend(losses)
                del hist[: -self.max_losses]
            self._sent += batch.findings
            for index, cause in batch.links.items():  # a cause found after its consequence
                if index < len(self._sent):
                    self._sent[index].consequence_of = cause
            if batch.findings or batch.links:
                self.findings = sort_findings(self.findings + batch.findings)
            self._batch.states_changed = self._batch.states_changed or bool(states)
            if batch.finished:
                self.finished = batch.finished

    # -- the UI -------------------------------------------------------------------------
    def drain(self) -> Batch:
        with self._lock:
            batch, self._batch = self._batch, Batch()
        return batch

    def reset_step(self, step: str) -> None:
        """Forget a step's state before it is run again (after a fix)."""
        with self._lock:
            self.steps[step] = StepStatus(step)
            self._shown[step] = 0
            self.loss_history[step] = []
            self.last_progress.pop(step, None)
            self.findings = [f for f in self.findings if step not in f.steps]
            self.finished = None
            self._batch.states_changed = True

    def reset_run(self, steps: list[str]) -> None:
        """A new run: ``steps`` forgotten, and nothing of the last run left."""
        for step in steps:
            self.reset_step(step)
        with self._lock:
            self.findings = []
            self._batch = Batch(states_changed=True)


if __name__ == "__main__":
    code = worker_main()
    sys.stderr.flush()
    os._exit(code)  # daemon threads may still block in read(); nothing is left to flush
