"""One diagnosis of one run: its steps' byte streams in, findings with step and source out.

Every front end diagnoses through a :class:`Session`: ``wantui diagnose`` (log files),
``run`` and ``attach`` (the supervisor's events), the TUI's feed, ``fix --log`` and the
report. One matcher sees the whole run, each step's log under that step's rules, so a
``once`` finding (``dataset-empty`` printed by all three steps) is reported once wherever
the run is looked at, and a cause in the caching log explains a failure in training.
Each stream is normalised once; with ``progress`` the same lines feed the progress
tracker (the TUI's loss plot and checkpoints).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wantui.core.finding import Finding
from wantui.core.killed import KillWatch
from wantui.core.literalscan import LiteralScan
from wantui.core.logtext import Line, Normalizer, ScanAnd, decode_line, normalize_line
from wantui.core.matcher import Matcher
from wantui.core.progress import Progress, RunStats
from wantui.core.rules.model import Rule, RuleSet

_TAIL_MAX = 64 * 1024
_STATE_MAX = 4096  # as the app's log pane draws it
# raw lines the progress tracker needs even when no rule is interested in them
_PROGRESS_RX = re.compile(rb"it/s|s/it|epoch \d|saving checkpoint: ")


@dataclass
class Located:
    """A finding with the step and the log it came from (None: not from one step's log)."""

    finding: Finding
    step: str | None
    source: str | None

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "source": self.source, "finding": self.finding.to_json()}


def exit_status_of(ev: Any) -> int | None:
    """A StepExited's status as Popen says it: -N when killed by signal N (the matcher
    then names the signal), 1 for a step that could not start, None when unknown."""
    if ev.returncode is not None:
        return ev.returncode
    if ev.signal:
        return -ev.signal
    if ev.message and not ev.unknown:
        return 1
    return None


@dataclass
class _Stream:
    step: str | None
    source: str | None
    normalizer: Normalizer
    stats: RunStats | None = None
    watch: KillWatch | None = None
    partial: bytes | None = None  # the \r state of the line being redrawn, already fed
    partial_text: str | None = None  # that state decoded
    tail: bytes = b""  # the bytes after the last newline (live: its \r states)
    ended: bool = False
    losses_seen: int = 0
    checkpoints_seen: int = 0


@dataclass
class StepNews:
    """What one chunk of a step's output changed (for live front ends)."""

    findings: list[Located] = field(default_factory=list)
    progress: Progress | None = None  # the newest progress state, when the chunk had one


class Session:
    """The diagnosis of one run (or of a set of log files read as one run)."""

    def __init__(
        self,
        rules: RuleSet | list[Rule],
        context: dict[str, str] | None = None,
        *,
        progress: bool = False,
        live: bool = False,
        path_probe: tuple | None = None,
    ) -> None:
        # a "step" in the context limits every stream to that step's rules (diagnose
        # --context step=train); otherwise each stream says its own step
        self.matcher = Matcher(rules, context)
        self.matcher.path_probe = path_probe
        self.progress = progress
        # live: a line still being redrawn with \r (a tqdm bar) is diagnosed at each
        # state, not at its newline (avr_loss=nan must not wait for the epoch's end)
        self.live = live
        # the lines worth decoding, found in whole blocks (None: every line)
        scan: LiteralScan | ScanAnd | None = self.matcher.prefilter()
        if progress and scan is not None:
            # the progress tracker also wants tqdm and checkpoint lines; history: every \r
            # state of a bar, so the loss plot has every step, not one per line
            scan = ScanAnd(scan, _PROGRESS_RX)
        self._scan = scan
        self._streams: dict[str, _Stream] = {}
        self._current: str | None = None
        self._statuses: list[int] = []  # failed steps' exit statuses, in order
        self._stopped = False
        self._finished = False
        self._located: list[Located] = []

    # -- input ----------------------------------------------------------------------
    def start(self, key: str, *, step: str | None = None, source: str | None = None) -> None:
        """A new stream (a step started, or the next log file). ``key`` names it in
        :meth:`feed`; ``step`` chooses its rules (None: all); ``source`` labels evidence."""
        self._streams[key] = _Stream(
            step,
            source,
            Normalizer(prefilter=self._scan, history=self.progress),
            RunStats() if self.progress else None,
        )

    def stream(self, key: str) -> _Stream:
        s = self._streams.get(key)
        if s is None:  # attached mid-step: diagnose from here
            self.start(key, step=key, source=f"{key}.log")
            s = self._streams[key]
        return s

    def feed(self, key: str, data: bytes, decoded: list[str] | None = None) -> StepNews:
        """Bytes of stream ``key``; the findings they completed and the newest progress.
        ``decoded``: when ``data`` is whole lines, each decoded already (the app's log
        pane decodes every line: the ones diagnosed are not decoded twice)."""
        s = self.stream(key)
        news = self._lines(key, s, s.normalizer.feed(data, decoded))
        if self.live:
            nl = data.rfind(b"\n")
            s.tail = (s.tail + data if nl < 0 else data[nl + 1 :])[-_TAIL_MAX:]
            state = self.redrawing(key)
            if state != s.partial:
                more = self.redraw(key, state)
                news.findings += more.findings
                news.progress = more.progress or news.progress
        return news

    def redrawing(self, key: str) -> bytes | None:
        """(live) The last ``\r`` state of the stream's unfinished line, if it is being
        redrawn (what a terminal shows on that line now)."""
        s = self.stream(key)
        if b"\r" not in s.tail:
            return None
        segs = [x for x in s.tail.split(b"\r") if x.strip()]
        return segs[-1][:_STATE_MAX] if segs else None

    def redraw(self, key: str, state: bytes | None) -> StepNews:
        """The line being redrawn with ``\\r`` right now (a tqdm bar before its newline):
        its progress and precursors must not wait for the newline. None: it ended."""
        s = self.stream(key)
        if state is None or state == s.partial:
            s.partial = state
            s.partial_text = None if state is None else s.partial_text
            return StepNews()
        s.partial = state
        s.partial_text = decode_line(state)
        number = s.normalizer.lines_seen + 1
        return self._lines(key, s, normalize_line(number, s.partial_text))

    def redrawn_text(self, key: str, state: bytes) -> str | None:
        """(live) ``state`` decoded, when it is the redraw state this stream was last fed
        (the app shows it under the log without decoding it again); None otherwise."""
        s = self._streams.get(key)
        return s.partial_text if s is not None and state == s.partial else None

    @property
    def failed(self) -> bool:
        """Whether what was read so far shows a failure (traceback, argparse, status)."""
        return self.matcher.failed

    def watch(self, key: str) -> None:
        """Start watching who may kill the step (the OOM killer)."""
        self.stream(key).watch = KillWatch()

    def end(
        self, key: str, exit_status: int | None = None, *, stopped: bool = False
    ) -> list[Located]:
        """Stream ``key`` ended; ``exit_status`` is Popen's (-N: killed by signal N)."""
        s = self.stream(key)
        news = self._lines(key, s, s.normalizer.close()).findings
        s.ended = True
        if stopped:
            self._stopped = True
        elif exit_status not in (0, None):
            self._statuses.append(exit_status)
            if s.watch is not None:
                # the kernel log or the cgroup may say who killed it, each under its source
                for n, (source, text) in enumerate(s.watch.evidence(), 1):
                    self._switch(None)
                    self.matcher.set_source(source, s.step)
                    news += self._locate(self.matcher.feed(Line(n, text)), s.step, source)
                self._current = None
        if stopped or exit_status not in (0, None):
            # a failed or stopped step ends the run: its diagnosis is complete now
            news += self.finish()
        return news

    def finish(self, exit_status: int | None = None) -> list[Located]:
        """The run ended: settle what is pending; an unexplained failure is said honestly.
        ``exit_status`` when the steps did not say it (``diagnose --exit-status``)."""
        if self._finished:
            return []
        self._finished = True
        news: list[Located] = []
        for key, s in self._streams.items():
            if not s.ended:
                news += self._lines(key, s, s.normalizer.close()).findings
        status = self._statuses[-1] if self._statuses else exit_status
        if self._stopped and not self._statuses:
            found = self.matcher.finish(None, stopped=True)
        else:
            found = self.matcher.finish(status)
        cur = self._streams.get(self._current or "")
        return news + self._locate(found, cur.step if cur else None, cur.source if cur else None)

    # -- the supervisor's events ----------------------------------------------------
    def event(self, ev: Any) -> list[Located]:
        """Diagnose one supervisor event (StepStarted, StepOutput, StepExited,
        RunFinished); the findings it completed. Other events change nothing."""
        kind = type(ev).__name__
        if kind == "StepOutput":
            return self.feed(ev.step, ev.data).findings
        if kind == "StepStarted":
            self.start(ev.step, step=ev.step, source=str(ev.log_path))
            self.watch(ev.step)
            return []
        if kind == "StepExited":
            return self.end(ev.step, exit_status_of(ev), stopped=bool(ev.stopped))
        if kind == "RunFinished":
            return self.finish()
        return []

    # -- output ---------------------------------------------------------------------
    def findings(self) -> list[Finding]:
        """Every finding so far, root causes first."""
        return self.matcher.findings()

    def link_causes(self) -> None:
        """Link each finding so far to its cause, where the cause was found after it
        (``Finding.consequence_of``; :meth:`findings` does it too)."""
        self.matcher.link_causes()

    def located(self) -> list[Located]:
        """Every finding so far with its step and source, in the order they were made."""
        return list(self._located)

    def stats(self, key: str) -> RunStats | None:
        s = self._streams.get(key)
        return s.stats if s is not None else None

    def new_losses(self, key: str) -> list[float]:
        """avr_loss values of steps not reported yet (the tracker keeps one per step)."""
        s = self._streams.get(key)
        if s is None or s.stats is None or len(s.stats.loss_steps) <= s.losses_seen:
            return []
        losses = s.stats.losses
        new = [losses[k] for k in s.stats.loss_steps[s.losses_seen :]]
        s.losses_seen = len(s.stats.loss_steps)
        return new

    def new_checkpoints(self, key: str) -> list[str]:
        s = self._streams.get(key)
        if s is None or s.stats is None:
            return []
        new = s.stats.checkpoints[s.checkpoints_seen :]
        s.checkpoints_seen = len(s.stats.checkpoints)
        return list(new)

    # -- inside ---------------------------------------------------------------------
    def _switch(self, key: str | None) -> list[Located]:
        if key == self._current:
            return []
        prev = self._streams.get(self._current or "")
        self._current = key
        s = self._streams.get(key or "")
        found = self.matcher.set_source(s.source if s else None, s.step if s else None)
        return self._locate(found, prev.step if prev else None, prev.source if prev else None)

    def _lines(self, key: str, s: _Stream, lines: Any) -> StepNews:
        news = StepNews()
        news.findings += self._switch(key)
        found: list[Finding] = []
        feed = self.matcher.feed
        stats = s.stats
        for line in lines:
            found += feed(line)
            if stats is not None:
                before = stats.last
                stats.feed(line)
                if stats.last is not before:
                    news.progress = stats.last
        news.findings += self._locate(found, s.step, s.source)
        return news

    def _locate(self, found: list[Finding], step: str | None, source: str | None) -> list[Located]:
        out = []
        for f in found:
            src = next((e.source for e in f.evidence if e.source), None) or source
            out.append(Located(f, step, src))
        self._located += out
        return out
