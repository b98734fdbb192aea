"""Where a pipeline screen's events come from: a live run (the supervisor) or a replay.

Both deliver the supervisor's own event types to a sink from a worker thread, so the
screen cannot tell them apart and a replay shows the same findings and fix offers.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from wantui.core.errors import WantuiError
from wantui.core.project import STEP_NAMES, Project
from wantui.core.supervisor.events import emit

# "2025-03-01 12:00:03" / "2025-03-01T12:00:03.123" at the start of a line
_STAMP = re.compile(rb"^\[?(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)")
MAX_GAP_S = 2.0  # a replay never sits idle longer than this between two lines


@dataclass
class ReplayStep:
    step: str
    path: Path
    returncode: int | None = None


@dataclass
class ReplayPlan:
    steps: list[ReplayStep] = field(default_factory=list)
    status: str | None = None  # the run's final status when a run.json says so
    label: str = ""


def replay_plan(target: str | Path, step: str = "train") -> ReplayPlan:
    """What to replay: a single log (shown as ``step``), or a run folder with
    ``run.json`` and ``<step>.log`` files (the supervisor's layout)."""
    path = Path(target)
    if path.is_dir():
        record: dict[str, Any] = {}
        rj = path / "run.json"
        if rj.is_file():
            try:
                record = json.loads(rj.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise WantuiError(f"unreadable run record: {exc}", path=rj) from None
            except RecursionError:
                raise WantuiError("unreadable run record: nested too deeply", path=rj) from None
            if not isinstance(record, dict) or not isinstance(record.get("steps", []), list):
                raise WantuiError("unreadable run record: not a run.json object", path=rj)
        codes = {
            s["name"]: s.get("returncode")
            for s in record.get("steps", [])
            if isinstance(s, dict)
            and isinstance(s.get("name"), str)
            and (s.get("returncode") is None or type(s.get("returncode")) is int)
        }
        status = record.get("status")
        plan = ReplayPlan(status=status if isinstance(status, str) else None, label=path.name)
        for name in STEP_NAMES:
            log = path / f"{name}.log"
            if log.is_file():
                plan.steps.append(ReplayStep(name, log, codes.get(name)))
        if not plan.steps:
            raise WantuiError(
                "no step logs (latents.log, te.log, train.log) in this folder", path=path
            )
        return plan
    if not path.exists():
        raise WantuiError("no such file", path=path)
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise WantuiError(f"cannot read: {exc.strerror}", path=path) from None
    if step not in STEP_NAMES:
        raise WantuiError(f"unknown step '{step}' (steps are {', '.join(STEP_NAMES)})")
    return ReplayPlan(steps=[ReplayStep(step, path)], label=path.name)


def _stamp(line: bytes) -> float | None:
    m = _STAMP.match(line)
    if m is None:
        return None
    try:
        return datetime.fromisoformat(m.group(1).decode().replace(",", ".")).timestamp()
    except ValueError:
        return None


class ReplaySource:
    """Plays a :class:`ReplayPlan` into a sink: real gaps where lines carry timestamps
    (capped at MAX_GAP_S, divided by ``speed``), else ``lines_per_tick`` lines every tick."""

    def __init__(
        self,
        plan: ReplayPlan,
        *,
        speed: float = 1.0,
        tick_s: float = 0.02,
        lines_per_tick: int = 40,
        instant: bool = False,
    ) -> None:
        self.plan = plan
        self.speed = max(speed, 0.01)
        self.tick_s = tick_s
        self.lines_per_tick = lines_per_tick
        self.instant = instant
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def spec(self) -> dict[str, Any]:
        """What a feed process needs to play the same replay (JSON)."""
        return {
            "kind": "replay",
            "steps": [[s.step, str(s.path), s.returncode] for s in self.plan.steps],
            "status": self.plan.status,
            "label": self.plan.label,
            "options": {
                "speed": self.speed,
                "tick_s": self.tick_s,
                "lines_per_tick": self.lines_per_tick,
                "instant": self.instant,
            },
        }

    def run(self, sink: Any) -> None:
        from wantui.core.supervisor import events as ev

        failed = False
        for rs in self.plan.steps:
            if self._stop.is_set():
                break
            emit(sink, ev.StepStarted(rs.step, ("replay", str(rs.path)), None, None, rs.path))
            try:
                self._play(rs, sink, ev)
            except OSError as exc:
                emit(
                    sink,
                    ev.RunNotice(
                        f"{rs.path}: cannot read: {exc.strerror}", step=rs.step, level="error"
                    ),
                )
            emit(sink, ev.StepExited(rs.step, rs.returncode))
            failed = failed or (rs.returncode not in (0, None))
        status = self.plan.status or ("failed" if failed else "succeeded")
        emit(
            sink,
            ev.RunFinished(
                "stopped" if self._stop.is_set() else status, run_id=f"replay:{self.plan.label}"
            ),
        )

    def _play(self, rs: ReplayStep, sink: Any, ev: Any) -> None:
        last: float | None = None
        chunk: list[bytes] = []
        with rs.path.open("rb") as fh:
            for line in fh:
                if self._stop.is_set():
                    return
                chunk.append(line)
                if self.instant:
                    if len(chunk) >= 1000:
                        emit(sink, ev.StepOutput(rs.step, b"".join(chunk)))
                        chunk = []
                    continue
                if b"\r" in line and line.count(b"\r") > 1:
                    # a tqdm bar redrawn in place: play its states one by one
                    emit(sink, ev.StepOutput(rs.step, b"".join(chunk[:-1])))
                    chunk = []
                    parts = line.split(b"\r")
                    for i, part in enumerate(parts):
                        if self._stop.is_set():
                            return
                        emit(sink, ev.StepOutput(rs.step, (b"\r" if i else b"") + part))
                        self._stop.wait(self.tick_s / self.speed)
                    continue
                t = _stamp(line)
                if t is not None and last is not None and t > last:
                    emit(sink, ev.StepOutput(rs.step, b"".join(chunk[:-1])))
                    chunk = chunk[-1:]
                    self._stop.wait(min(t - last, MAX_GAP_S) / self.speed)
                if t is not None:
                    last = t
                elif len(chunk) >= self.lines_per_tick:
                    emit(sink, ev.StepOutput(rs.step, b"".join(chunk)))
                    chunk = []
                    self._stop.wait(self.tick_s / self.speed)
        if chunk:
            emit(sink, ev.StepOutput(rs.step, b"".join(chunk)))


class LiveSource:
    """Starts (or attaches to) a supervisor run and follows its log files."""

    def __init__(
        self,
        project: Project,
        *,
        steps: list[str] | None = None,
        run_dir: Path | None = None,
        autostart: bool = False,
    ) -> None:
        self.project = project
        self.autostart = autostart  # start a run when the screen opens (else wait for a key)
        self.steps = steps
        self.run_dir = run_dir
        self._stop = threading.Event()

    def start(self) -> Path:
        """Start a run now (raises WantuiError, e.g. RunLocked); returns its folder."""
        from wantui.core import supervisor as sup
        from wantui.core.away.config import load_away

        price = load_away(self.project.root).price_per_hour  # the meter's (run.json)
        handle = sup.start_run(
            self.project, self.steps, skip_cached=self.steps is None, price_per_hour=price
        )
        self.run_dir = handle.run_dir
        self._stop = threading.Event()  # a fresh follower for the new run
        return handle.run_dir

    def spec(self) -> dict[str, Any] | None:
        """What a feed process needs to follow the same run (None: no run yet)."""
        return None if self.run_dir is None else {"kind": "live", "run_dir": str(self.run_dir)}

    def run(self, sink: Any) -> None:
        from wantui.core import supervisor as sup

        if self.run_dir is None:
            return
        sup.follow_run(self.run_dir, sink, stop_event=self._stop)

    def stop_following(self) -> None:
        self._stop.set()

    def stop_run(self) -> None:
        from wantui.core import supervisor as sup

        if self.run_dir is not None:
            sup.stop_run(self.run_dir)
