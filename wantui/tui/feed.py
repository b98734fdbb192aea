"""The TUI's model of a run: a supervisor sink that the screens poll.

Events arrive on a worker thread (the supervisor's follower, or a replay). Here they are
turned into display lines (ANSI kept, ``\\r`` rewrites collapsed), fed to the core's
normaliser, matcher and progress tracker, and buffered. The UI drains one :class:`Batch`
every ~100 ms, so redraw cost does not grow with the output rate, and only the newest
progress state is ever drawn. No Textual here: it is tested and benchmarked without an app.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from wantui.core.diagnosis import Session
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding, sort_findings
from wantui.core.logtext import decode_line
from wantui.core.plan.live import SpeedWatch
from wantui.core.project import STEP_NAMES
from wantui.core.rules import load_rules
from wantui.core.supervisor.diagnoser import FindingsTail
from wantui.tui.display_lines import DisplayLines
from wantui.tui.rank_fold import RankFolder


class StepState(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    STOPPED = "stopped"


@dataclass
class StepStatus:
    name: str
    state: StepState = StepState.PENDING
    returncode: int | None = None
    signal: int | None = None
    note: str = ""
    lines: int = 0
    ranks: int = 0  # distinct [rankN]: prefixes seen (data-parallel training)
    log: str = ""  # the step's log file (the supervisor's, or the replayed file)


@dataclass
class Batch:
    """What changed since the last drain."""

    lines: dict[str, list[str]] = field(default_factory=dict)  # display lines, ANSI kept
    partial: dict[str, str] = field(default_factory=dict)  # the line being redrawn (\r)
    dropped: dict[str, int] = field(default_factory=dict)  # lines not drawn (would scroll out)
    # lines drawn earlier, rewritten: absolute line index -> text (a rank repeated a line)
    updates: dict[str, dict[int, str]] = field(default_factory=dict)
    ranked: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # (rank, text)
    progress: dict[str, Any] = field(default_factory=dict)  # newest progress per step
    losses: dict[str, list[float]] = field(default_factory=dict)
    checkpoints: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # new findings
    # findings sent earlier whose cause was found since: index in the order findings
    # were sent -> the cause's rule id (Finding.consequence_of)
    links: dict[int, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    states_changed: bool = False
    finished: str | None = None

    def add_lines(
        self,
        step: str,
        lines: list[str],
        updates: dict[int, str],
        ranked: list[tuple[int, str]],
        *,
        end: int,
        max_lines: int,
        dropped: int = 0,
    ) -> None:
        """Take a step's new display lines, rewrites of earlier ones and ranked lines;
        ``end`` is the absolute index after ``lines`` (``dropped`` lines before them were
        never drawn). A rewrite of a line still pending here is made in place, the others
        are kept as updates; the pending lines are bounded to what a pane can show."""
        buf = self.lines.get(step)
        if lines:
            buf = self.lines.setdefault(step, [])
            buf.extend(lines)
        if updates:
            start = end - len(buf or ())  # absolute index of buf[0]
            for index, text in updates.items():
                if buf and index >= start:
                    buf[index - start] = text  # not drawn yet: rewrite it in place
                else:
                    self.updates.setdefault(step, {})[index] = text
        if buf is not None and len(buf) > max_lines:  # would scroll out of the pane at once
            cut = len(buf) - max_lines
            del buf[:cut]
            dropped += cut
        if dropped:
            self.dropped[step] = self.dropped.get(step, 0) + dropped
        if ranked:
            rbuf = self.ranked.setdefault(step, [])
            rbuf.extend(ranked)
            del rbuf[:-max_lines]

    def merge(self, later: Batch, ends: dict[str, int], max_lines: int) -> None:
        """Append ``later`` (the next batch of the same feed) to this undrawn one.
        ``ends``: each step's absolute line count after ``later``'s lines."""
        for step in {*later.lines, *later.updates, *later.ranked, *later.dropped}:
            self.add_lines(
                step,
                later.lines.get(step, []),
                later.updates.get(step, {}),
                later.ranked.get(step, []),
                end=ends.get(step, 0),
                max_lines=max_lines,
                dropped=later.dropped.get(step, 0),
            )
        self.partial.update(later.partial)
        self.progress.update(later.progress)
        for step, losses in later.losses.items():
            self.losses.setdefault(step, []).extend(losses)
        self.checkpoints += later.checkpoints
        self.findings += later.findings
        self.links.update(later.links)
        self.notices += later.notices
        self.states_changed = self.states_changed or later.states_changed
        if later.finished:
            self.finished = later.finished

    def empty(self) -> bool:
        return not (
            self.lines
            or self.updates
            or self.ranked
            or self.partial
            or self.progress
            or self.losses
            or self.checkpoints
            or self.findings
            or self.links
            or self.notices
            or self.states_changed
            or self.finished
        )


class Feed:
    """Sink for supervisor events (``emit``), drained by the UI (``drain``)."""

    def __init__(
        self,
        steps: tuple[str, ...] = STEP_NAMES,
        *,
        rules: Any = None,
        context: dict[str, str] | None = None,
        max_lines: int = 5000,
        max_duty: float = 0.5,
        planned_sec: float | None = None,
    ) -> None:
        self.max_lines = max_lines
        # training far slower than `wantui plan` said (Windows shared-memory spill, ...)
        self.speed = SpeedWatch(planned_sec) if planned_sec else None
        self.max_duty = max_duty  # share of the time the sink thread may hold the CPU
        self.max_losses = 2000
        self.steps = {s: StepStatus(s) for s in steps}
        self._rules = rules  # None: loaded on first use, in the sink's thread (~1 s of YAML)
        self._rules_loaded = rules is not None
        self._context = context
        self._display = {s: DisplayLines() for s in steps}
        self._folders = {s: RankFolder() for s in steps}
        self._session: Session | None = None  # the run's diagnosis (core.diagnosis)
        self._tail: FindingsTail | None = None  # or the runner's, from findings.jsonl
        self._tail_next = 0.0
        self._redrawing: dict[str, bytes] = {}  # a step's line being redrawn with \r
        self._lock = threading.Lock()
        self._batch = Batch()
        self.findings: list[Finding] = []
        self.loss_history: dict[str, list[float]] = {s: [] for s in steps}
        self.last_progress: dict[str, Any] = {}
        self.finished: str | None = None
        # every finding in the order it was sent, and the cause each was sent with
        self._sent: list[Finding] = []
        self._sent_cause: list[str | None] = []
        self._relink_due = False  # findings.jsonl linked a finding to its cause

    @property
    def diagnosis_available(self) -> bool:
        return self._rules is not None or not self._rules_loaded

    def _session_now(self) -> Session | None:
        """The run's diagnosis, made on first use (in the sink's thread: ~1 s of YAML).
        Invalid rules leave the run undiagnosed (said on screen); a broken core raises."""
        if not self._rules_loaded:
            self._rules_loaded = True
            try:
                self._rules = load_rules()
            except WantuiError:
                self._rules = None
            else:
                # what the CLI says on stderr: a folder's untrusted rules left out, broken
                # user rules skipped, built-ins replaced
                notes = [f"{p} (rule skipped)" for p in self._rules.problems]
                notes += list(getattr(self._rules, "notices", ()))
                with self._lock:
                    self._batch.notices.extend(str(n) for n in notes)
        if self._session is None and self._rules is not None:
            self._session = Session(self._rules, self._context, progress=True, live=True)
        return self._session

    # -- sink side (worker thread) ----------------------------------------------------
    def emit(self, event: Any) -> None:
        kind = type(event).__name__
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            return
        t = time.perf_counter()
        handler(event)
        if self.max_duty < 1.0:
            # Leave the GIL to the UI thread for a while after heavy work: a thread that
            # never sleeps makes every UI hop wait for the switch interval (a convoy), and
            # key presses would take seconds during a flood. The backlog waits on disk.
            busy = time.perf_counter() - t
            if busy > 0.002:
                time.sleep(min(busy * (1 - self.max_duty) / self.max_duty, 0.1))

    __call__ = emit

    def _status(self, step: str) -> StepStatus:
        if step not in self.steps:
            self.steps[step] = StepStatus(step)
            self._display[step] = DisplayLines()
            self._folders[step] = RankFolder()
            self.loss_history[step] = []
        return self.steps[step]

    def _follow_findings(self, ev: Any) -> None:
        """A live run whose runner writes findings.jsonl: its findings come from there
        (the file is the truth, the same as run and attach say); the session here then
        only tracks progress. Decided before anything was diagnosed here."""
        if self._session is not None or self._tail is not None:
            return
        log = getattr(ev, "log_path", None)
        tail = FindingsTail(Path(log).parent) if log else None
        if tail is not None and tail.exists():
            self._tail = tail
            self._session = Session([], progress=True, live=True)

    def _diagnosed(
        self, located: list[Any], *, force: bool = False, wait: bool = False
    ) -> list[Finding]:
        """The new findings: the session's, or in a run with findings.jsonl what the file
        got since the last look (every 0.1 s at most, unless ``force``)."""
        tail = self._tail
        if tail is None:
            return [x.finding for x in located]
        now = time.monotonic()
        if not force and now < self._tail_next:
            return []
        self._tail_next = now + 0.1
        end = now + (5.0 if wait else 0.0)  # the runner writes the end line before it ends
        out = tail.poll()
        while wait and not tail.ended and time.monotonic() < end:
            time.sleep(0.05)
            out += tail.poll()
        if tail.relinked():
            self._relink_due = True
        return out

    def _on_StepStarted(self, ev: Any) -> None:  # noqa: N802 - named after the event class
        self._follow_findings(ev)
        session = self._session_now()
        if session is not None:
            session.event(ev)  # a stream for the step, and who may kill it
        with self._lock:
            st = self._status(ev.step)
            st.state = StepState.RUNNING
            st.note = "; ".join(getattr(ev, "notes", ()) or ())
            st.log = str(getattr(ev, "log_path", "") or "")
            self._batch.states_changed = True

    def _on_StepOutput(self, ev: Any) -> None:  # noqa: N802
        display = self._display.setdefault(ev.step, DisplayLines())
        shown = display.feed(ev.data)
        session = self._session_now()
        found: list[Finding] = []
        progress = None
        if session is not None:
            # the lines the pane decoded are not decoded again; live: the \r states too
            news = session.feed(ev.step, ev.data, display.decoded)
            found = self._diagnosed(news.findings)
            progress = news.progress
        # the bar being redrawn right now: a live row under the log
        state = display.current_state()
        if state != self._redrawing.get(ev.step):
            if state is None:
                self._redrawing.pop(ev.step, None)  # the line got its newline
            else:
                self._redrawing[ev.step] = state
            text = None
            if state is not None:
                # the session decoded the same state when it diagnosed it
                known = session.redrawn_text(ev.step, state) if session is not None else None
                text = (decode_line(state) if known is None else known).rstrip()
            with self._lock:
                self._batch.partial[ev.step] = "" if text is None else text
        self._take(ev.step, shown, found, progress)

    def _take(
        self, step: str, shown: list[str], found: list[Finding], progress: Any = None
    ) -> None:
        session = self._session
        if self.speed is not None and step == "train" and progress is not None:
            slow = self.speed.check(progress)
            if slow is not None:
                found.append(slow)
        with self._lock:
            st = self._status(step)
            folder = self._folders.setdefault(step, RankFolder())
            shown, updates, ranked = folder.fold(shown)
            st.lines += len(shown)
            st.ranks = len(folder.ranks)
            self._batch.add_lines(
                step, shown, updates, ranked, end=folder.shown, max_lines=self.max_lines
            )
            if progress is not None:
                self._batch.progress[step] = progress  # newer replaces older, unseen
                self.last_progress[step] = progress
                new_losses = session.new_losses(step) if session is not None else []
                if new_losses:
                    hist = self.loss_history[step]
                    hist.extend(new_losses)
                    del hist[: -self.max_losses]
                    self._batch.losses.setdefault(step, []).extend(new_losses)
            if session is not None:
                self._batch.checkpoints.extend(session.new_checkpoints(step))
            self._add_findings(found)

    def _add_findings(self, found: list[Finding]) -> None:
        """(under the lock) New findings, and the cause links found since for the ones
        sent before (the batch's ``links``)."""
        relink, self._relink_due = self._relink_due, False
        if not found and not relink:
            return
        if found and self._tail is None and self._session is not None:
            self._session.link_causes()  # a new finding may be an earlier one's cause
            relink = True
        if relink:
            for i, f in enumerate(self._sent):
                if f.consequence_of != self._sent_cause[i]:
                    self._sent_cause[i] = f.consequence_of
                    if f.consequence_of:
                        self._batch.links[i] = f.consequence_of
        self._sent += found
        self._sent_cause += [f.consequence_of for f in found]
        self.findings = sort_findings(self.findings + found)
        self._batch.findings.extend(found)

    def _on_StepExited(self, ev: Any) -> None:  # noqa: N802
        shown = self._display.setdefault(ev.step, DisplayLines()).close()
        session = self._session_now()
        # killed by a signal: the session says "killed by SIGKILL", never a failure with
        # no exit status; a stopped step's end is the stop, no failure to explain
        found = self._diagnosed(session.event(ev) if session is not None else [], force=True)
        stopped = bool(getattr(ev, "stopped", False))
        self._take(ev.step, shown, found)
        with self._lock:
            self._redrawing.pop(ev.step, None)
            st = self._status(ev.step)
            st.returncode, st.signal = ev.returncode, ev.signal
            if stopped:
                st.state = StepState.STOPPED
            elif ev.returncode == 0:
                st.state = StepState.DONE
            elif ev.returncode is None and ev.signal is None and not getattr(ev, "message", None):
                # a replayed log without its exit status: done, unless it shows an error
                errors = any(
                    f.severity.value == "error" and ev.step in f.steps for f in self.findings
                ) or any(f.severity.value == "error" for f in found)
                errors = errors or (session is not None and session.failed)
                st.state = StepState.FAILED if errors else StepState.DONE
                st.note = "exit status unknown" + ("; the log shows an error" if errors else "")
            elif ev.signal in (2, 15):
                st.state = StepState.STOPPED
            else:
                st.state = StepState.FAILED
            if getattr(ev, "message", None):
                st.note = ev.message
                self._batch.notices.append(f"{ev.step}: {ev.message}")
            self._batch.states_changed = True

    def _on_StepSkipped(self, ev: Any) -> None:  # noqa: N802
        with self._lock:
            st = self._status(ev.step)
            st.state, st.note = StepState.SKIPPED, ev.reason
            self._batch.states_changed = True

    def _on_RunNotice(self, ev: Any) -> None:  # noqa: N802
        with self._lock:
            self._batch.notices.append(ev.text)

    def _on_RunFinished(self, ev: Any) -> None:  # noqa: N802
        session = self._session
        located = session.event(ev) if session is not None else []
        found = self._diagnosed(located, force=True, wait=True)
        with self._lock:
            self._add_findings(found)
            status = ev.status
            if status == "succeeded" and any(
                st.state is StepState.FAILED for st in self.steps.values()
            ):
                status = "failed"  # a replay without exit codes, whose log shows an error
            self.finished = status
            self._batch.finished = status
            if ev.message:
                self._batch.notices.append(ev.message)
            for st in self.steps.values():
                if st.state is StepState.RUNNING and ev.status == "stopped":
                    st.state = StepState.STOPPED
            self._batch.states_changed = True

    # -- UI side ----------------------------------------------------------------------
    def drain(self) -> Batch:
        with self._lock:
            batch, self._batch = self._batch, Batch()
        return batch

    def reset_step(self, step: str) -> None:
        """Forget a step's state before it is run again (after a fix)."""
        with self._lock:
            self.steps[step] = StepStatus(step)
            self._display[step] = DisplayLines()
            self._folders[step] = RankFolder()
            # the step runs again: a new diagnosis (the other steps' findings stay)
            self._session = None
            self._tail = None
            self._redrawing.pop(step, None)
            self.loss_history[step] = []
            self.last_progress.pop(step, None)
            self.findings = [f for f in self.findings if step not in f.steps]
            self._batch.states_changed = True

    def reset_run(self, steps: list[str]) -> None:
        """A new run: ``steps`` forgotten, and nothing of the last run left (its findings,
        its end, what it sent and was not drawn yet)."""
        for step in steps:
            self.reset_step(step)
        with self._lock:
            self.findings = []
            self.finished = None
            self._batch = Batch(states_changed=True)
