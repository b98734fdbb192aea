"""The run's diagnosis, made once, beside the runner: ``runs/<id>/findings.jsonl``.

The runner tails each step's log into one :class:`~wantui.core.diagnosis.Session` while
the step runs and appends every finding as one JSON line (one ``write`` on an
``O_APPEND`` file: a reader never sees half a line). A finding whose cause shows only
later (the consequence was printed first) gets a link line as soon as the cause is found,
so a reader tailing the file mid-run sees the link too. Before the run is marked finished
the last line, ``{"end": ...}``, repeats every link (files written before the link lines
carried them only there). Front ends (``run``, ``attach``, the app) read this file
instead of diagnosing the logs again: the file is the truth, the same for all of them.

Line format (one JSON object a line; docs/json.md)::

    {"n": 0, "step": "latents", "source": ".../latents.log", "finding": {...}}
    {"link": 0, "consequence_of": "dataset-empty"}
    {"end": true, "links": {"0": "dataset-empty"}}
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.finding import Finding, sort_findings

FINDINGS_FILE = "findings.jsonl"
_POLL = 0.2
_CHUNK = 1 << 20
MAX_LINE = 4 << 20  # a longer line is not a finding wantui wrote: skipped


class FindingsWriter:
    """Appends findings to a run's findings.jsonl, one atomic line each."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / FINDINGS_FILE
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        self._fd = os.open(self.path, flags, 0o644)
        self._written: list[Finding] = []
        self._linked: list[str | None] = []  # each finding's cause as the file says it

    def _line(self, obj: dict[str, Any]) -> None:
        data = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
        view = memoryview(data)
        while view:  # one write for a line (a regular file takes it whole); loop if not
            view = view[os.write(self._fd, view) :]

    def add(self, finding: Finding, step: str | None, source: str | None) -> None:
        n = len(self._written)
        self._written.append(finding)
        self._linked.append(finding.consequence_of)
        self._line({"n": n, "step": step, "source": source, "finding": finding.to_json()})

    def relink(self) -> None:
        """A link line for each finding written earlier whose cause has been found since."""
        for n, f in enumerate(self._written):
            if f.consequence_of and f.consequence_of != self._linked[n]:
                self._linked[n] = f.consequence_of
                self._line({"link": n, "consequence_of": f.consequence_of})

    def end(self) -> None:
        """The last line: every cause link (what older readers apply)."""
        links = {str(i): f.consequence_of for i, f in enumerate(self._written) if f.consequence_of}
        self._line({"end": True, "links": links})
        os.close(self._fd)


@dataclass
class FindingsTail:
    """Reads a run's findings.jsonl as it grows (complete lines only)."""

    run_dir: Path
    findings: list[Finding] = field(default_factory=list)
    steps: list[str | None] = field(default_factory=list)
    ended: bool = False
    # findings already returned by poll() whose cause link arrived since (see relinked())
    _relinked: list[Finding] = field(default_factory=list)
    _offset: int = 0
    _rest: bytes = b""

    @property
    def path(self) -> Path:
        return Path(self.run_dir) / FINDINGS_FILE

    def exists(self) -> bool:
        return self.path.is_file()

    def poll(self) -> list[Finding]:
        """The findings appended since the last poll."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(_CHUNK * 16)
        except OSError:
            return []
        self._offset += len(data)
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        if len(self._rest) > MAX_LINE:
            self._rest = b""
        new: list[Finding] = []
        for raw in lines:
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            if obj.get("end"):
                self._link(obj.get("links"))
                self.ended = True
                continue
            if "link" in obj:
                self._link({obj["link"]: obj.get("consequence_of")})
                continue
            try:
                f = Finding.from_json(obj.get("finding") or {})
            except ValueError:
                continue
            self.findings.append(f)
            self.steps.append(obj.get("step") if isinstance(obj.get("step"), str) else None)
            new.append(f)
        return new

    def _link(self, links: Any) -> None:
        if not isinstance(links, dict):
            return
        for key, cause in links.items():
            if str(key).isdigit() and int(key) < len(self.findings) and isinstance(cause, str):
                f = self.findings[int(key)]
                if f.consequence_of != cause:
                    f.consequence_of = cause
                    self._relinked.append(f)

    def relinked(self) -> list[Finding]:
        """The findings whose cause link changed since the last call (the objects that
        poll() returned, now with ``consequence_of`` set)."""
        out, self._relinked = self._relinked, []
        return out

    def sorted(self) -> list[Finding]:
        return sort_findings(list(self.findings))


class RunDiagnoser:
    """The runner's side: tail the running step's log into one Session, append findings.

    The runner calls :meth:`step_started`, :meth:`step_ended` and :meth:`close`; between
    them a thread reads what the step has written so far."""

    def __init__(self, run_dir: Path, context: dict[str, str] | None = None) -> None:
        from wantui.core.diagnosis import Session
        from wantui.core.rules import load_rules

        self.writer = FindingsWriter(run_dir)
        self.session = Session(load_rules(), context, live=True)
        self._lock = threading.Lock()
        self._step: str | None = None
        self._fh: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wantui-diagnoser", daemon=True)
        self._thread.start()

    def _emit(self, located: list[Any]) -> None:
        for x in located:
            self.writer.add(x.finding, x.step, x.source)
        if located:
            # a new finding may be the cause of one written before: link it now
            self.session.link_causes()
            self.writer.relink()

    def _drain(self) -> None:
        """(under the lock) Feed what the current step's log holds past what was read."""
        if self._fh is None or self._step is None:
            return
        while True:
            try:
                data = self._fh.read(_CHUNK)
            except OSError:
                return
            if not data:
                return
            self._emit(self.session.feed(self._step, data).findings)

    def _loop(self) -> None:
        while not self._stop.wait(_POLL):
            with self._lock:
                self._drain()

    def step_started(self, step: str, log_path: Path) -> None:
        with self._lock:
            self._close_file()
            self.session.start(step, step=step, source=str(log_path))
            self.session.watch(step)
            try:
                self._fh = open(log_path, "rb")  # noqa: SIM115 - closed at the step's end
            except OSError:
                self._fh = None
            self._step = step

    def step_ended(self, step: str, exit_status: int | None, *, stopped: bool = False) -> None:
        with self._lock:
            if self._step == step:
                self._drain()
                self._close_file()
            self._emit(self.session.end(step, exit_status, stopped=stopped))

    def close(self) -> None:
        """The run ended: settle the diagnosis and write the end line."""
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            self._drain()
            self._close_file()
            self._emit(self.session.finish())
            self.session.link_causes()
            self.writer.relink()
            self.writer.end()

    def _close_file(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = None
        self._step = None
