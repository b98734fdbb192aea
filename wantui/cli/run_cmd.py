"""``wantui run``: run the pipeline without the TUI (for scripts and ``nohup``).

The run is detached (its own session, immune to SIGHUP): the steps write their logs
under ``runs/<run-id>/`` and this command follows them, echoing the output to stdout and
diagnosing it live; Ctrl-C stops *following*, never the run (``wantui run --stop`` does).

Before the run starts, the fast preflight checks (:mod:`wantui.core.gate`) run and
what they found is printed on stderr. When it includes an error or a data loss, a
terminal is asked "run anyway?"; without a terminal the run is not started (exit 1)
unless ``--force`` is given.

Exit codes: 0 every step succeeded, 1 a step failed, the run was stopped, or the
preflight held it, 2 usage or a bad project / another run holds the project, 130
interrupted (the run goes on).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from wantui.cli.argtypes import non_negative_float, positive_int
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.finding import Finding, sort_findings
from wantui.core.outputs import lora_path
from wantui.core.progress import Progress, parse_progress
from wantui.core.project import STEP_NAMES, Project, load_project
from wantui.core.supervisor import (
    Event,
    RunFinished,
    RunNotice,
    RunRecord,
    StepExited,
    StepOutput,
    StepSkipped,
    StepStarted,
    follow_run,
    latest_run,
    start_run,
    stop_run,
)
from wantui.core.supervisor.rundir import effective_status, read_record
from wantui.core.textsafe import printable

if TYPE_CHECKING:
    from wantui.core.away.meter import Reading

METER_EVERY = 60.0  # seconds between meter lines while training


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        metavar="DIR",
        default=".",
        help="the project folder (default: the current folder)",
    )
    parser.add_argument(
        "--steps",
        metavar="LIST",
        default=None,
        help=f"comma-separated steps to run, in pipeline order (default: all of {','.join(STEP_NAMES)})",
    )
    parser.add_argument(
        "--skip-cached", action="store_true", help="skip caching steps whose cache files exist"
    )
    parser.add_argument(
        "--num-processes",
        type=positive_int,
        default=None,
        metavar="N",
        help="data-parallel training on N GPUs",
    )
    parser.add_argument(
        "--no-follow",
        action="store_true",
        help="start the run and return (follow it with `wantui attach`)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object at the end (logs are not echoed)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="start even when the preflight checks found errors or a data loss (scripts)",
    )
    parser.add_argument(
        "--stop", action="store_true", help="stop the project's running run instead"
    )
    parser.add_argument(
        "--price",
        type=non_negative_float,
        default=None,
        metavar="PER_HOUR",
        help="what the GPU costs per hour, for the meter (default: WANTUI_PRICE_PER_HOUR,"
        " [project] price_per_hour)",
    )
    parser.add_argument(
        "--cancel-finish",
        action="store_true",
        help="cancel the on_finish/on_failure countdown of the project's latest run",
    )
    parser.add_argument(
        "--grace",
        type=non_negative_float,
        default=10.0,
        metavar="S",
        help="with --stop: seconds after SIGINT before SIGTERM (default: 10)",
    )


def _say(text: str) -> None:
    # titles, log paths and the LoRA's name come from the project and its logs
    print(printable(f"wantui: {text}"), file=sys.stderr, flush=True)


def describe_exit(e: StepExited) -> str:
    if e.message and e.returncode is None and e.signal is None:
        return e.message
    if e.signal is not None:
        try:
            name = signal.Signals(e.signal).name
        except ValueError:
            name = str(e.signal)
        how = f"killed by {name}"
    else:
        how = f"exit status {e.returncode}"
    return f"{how}{f' ({e.message})' if e.message else ''}"


class LiveReport:
    """The sink shared by ``wantui run`` and ``wantui attach``: echo the output, diagnose
    it as it arrives (one :class:`~wantui.core.diagnosis.Session` for the run), say what
    happens, keep the findings."""

    def __init__(
        self,
        *,
        echo: TextIO | None,
        dataset_config: str | None = None,
        planned_sec: float | None = None,
        price: float | None = None,
        lora: Path | None = None,
    ) -> None:
        from wantui.cli.render import report_rule_load
        from wantui.core.diagnosis import Session
        from wantui.core.plan.live import SpeedWatch
        from wantui.core.rules import load_rules

        self.echo = echo
        self.rules = load_rules()
        report_rule_load(self.rules)
        self.dataset_config = dataset_config
        context = {"dataset_config": dataset_config} if dataset_config else {}
        self.session = Session(self.rules, context)
        self.logs: dict[str, str] = {}
        self.exits: dict[str, StepExited] = {}
        self.finished: RunFinished | None = None
        # training steps far slower than `wantui plan` said (Windows shared-memory spill)
        self.speed = SpeedWatch(planned_sec) if planned_sec else None
        self.extra: list[Finding] = []
        self.lora = lora  # where training saves the LoRA (core.outputs.lora_path)
        # the meter (wantui/core/away/meter.py): a line every METER_EVERY s while training
        self.price = price
        self.train_progress: Progress | None = None
        self.run_dir: Path | None = None
        self.meter_said = time.monotonic()
        self.tail: Any = None  # the run's findings.jsonl (core/supervisor/diagnoser.py)
        self.session_used = False
        self._next = 0.0

    def meter(self) -> Reading | None:
        from wantui.core.away.meter import meter_for_record

        if self.run_dir is None:
            return None
        try:
            rec = read_record(self.run_dir)
        except WantuiError:
            return None
        price = self.price if self.price is not None else rec.price_per_hour
        return meter_for_record(rec, price, self.train_progress)

    def _maybe_meter(self) -> None:
        if time.monotonic() - self.meter_said < METER_EVERY:
            return
        self.meter_said = time.monotonic()
        r = self.meter()
        if r is not None:
            _say(f"meter: {r.line()}")

    def _live(self, findings: list[Finding], step: str | None) -> None:
        for f in findings:
            where = f" (line {f.lines[0]})" if f.lines else ""
            _say(f"{f.severity.value} in {step or 'the run'}: {f.title}{where}")

    def _diagnosis(self, event: Event) -> None:
        """The runner's findings.jsonl when the run has one (the file is the truth);
        for a run without one (an older wantui's), the logs diagnosed here."""
        if self.tail is None and self.session_used is False and isinstance(event, StepStarted):
            from wantui.core.supervisor.diagnoser import FindingsTail

            tail = FindingsTail(Path(event.log_path).parent)
            if tail.exists():
                self.tail = tail
        if self.tail is not None:
            if isinstance(event, RunFinished):
                self._pull(wait=True)
            elif isinstance(event, (StepStarted, StepExited)) or time.monotonic() > self._next:
                self._pull()
            return
        self.session_used = self.session_used or isinstance(event, (StepStarted, StepOutput))
        for loc in self.session.event(event):
            self._live([loc.finding], loc.step)

    def _pull(self, *, wait: bool = False) -> None:
        assert self.tail is not None
        self._next = time.monotonic() + 0.2
        end = time.monotonic() + (5.0 if wait else 0.0)
        while True:
            new = self.tail.poll()
            for f, step in zip(new, self.tail.steps[len(self.tail.steps) - len(new) :]):
                self._live([f], step)
            if self.tail.ended or time.monotonic() >= end:
                return
            time.sleep(0.05)

    def __call__(self, event: Event) -> None:
        self._diagnosis(event)
        if isinstance(event, StepOutput):
            if self.echo is not None:
                self.echo.buffer.write(event.data)  # type: ignore[attr-defined]
                self.echo.flush()
            self.logs.setdefault(event.step, event.step + ".log")  # attached mid-step
            if event.step == "train":
                # tqdm redraws with \r; the matcher's normaliser keeps only rule lines
                for piece in event.data.decode("utf-8", "replace").replace("\r", "\n").split("\n"):
                    if "it/s" in piece or "s/it" in piece:
                        p = parse_progress(piece)
                        if p is not None and p.desc == "steps":
                            self.train_progress = p
                    slow = self.speed.feed(piece) if self.speed is not None else None
                    if slow is not None:
                        self.extra.append(slow)
                        self._live([slow], event.step)
                self._maybe_meter()
        elif isinstance(event, StepStarted):
            self.logs[event.step] = str(event.log_path)
            pid = f" (pid {event.pid})" if event.pid else ""
            _say(f"step {event.step} started{pid}: log {event.log_path}")
            for note in event.notes:
                _say(f"note: {note}")
        elif isinstance(event, StepExited):
            self.exits[event.step] = event
            verdict = "finished" if event.ok else ("ended" if event.unknown else "FAILED")
            verdict = "stopped" if event.stopped else verdict
            _say(f"step {event.step} {verdict}: {describe_exit(event)}")
        elif isinstance(event, StepSkipped):
            _say(f"step {event.step} skipped: {event.reason}")
        elif isinstance(event, RunNotice):
            where = f"{event.step}: " if event.step else ""
            _say(f"{event.level}: {where}{event.text}")
        elif isinstance(event, RunFinished):
            self.finished = event
            extra = f" ({event.message})" if event.message else ""
            _say(f"run {event.run_id} {event.status}{extra}")
            r = self.meter()
            if r is not None:
                _say(f"meter: {r.line()}")
            self._say_finish()

    def _say_finish(self) -> None:
        """What the end action will do (the runner counts down after the run's end)."""
        if self.run_dir is None:
            return
        time.sleep(0.3)  # the runner records the action just after the final state
        with contextlib.suppress(WantuiError):
            fin = read_record(self.run_dir).finish
            if fin and fin.get("state") == "countdown":
                _say(
                    f"{fin.get('action')} runs in {fin.get('delay_s', 0):g} s:"
                    " cancel with `wantui run --cancel-finish`"
                )
            elif fin and fin.get("state") == "skipped":
                _say(str(fin.get("message")))

    def findings(self) -> list[Finding]:
        if self.tail is not None:
            self.tail.poll()
            return sort_findings(self.tail.findings + self.extra)
        return sort_findings(self.session.findings() + self.extra)

    def report(self, rec: RunRecord, *, json_mode: bool) -> int:
        """Print the findings; the exit code for the run's outcome."""
        from wantui.cli.render import render_findings

        status = self.finished.status if self.finished else effective_status(rec)
        run_dir = str(rec.run_dir) if rec.run_dir else None
        trained = any(s.name == "train" and s.state == "succeeded" for s in rec.steps)
        lora = self.lora if trained and self.lora is not None and self.lora.is_file() else None
        if lora is not None:
            _say(f"LoRA saved: {lora}")
        r = self.meter()
        extra: dict[str, Any] = {
            "run": {
                "run_id": rec.run_id,
                "status": status,
                "run_dir": run_dir,
                "meter": r.to_json() if r is not None else None,
                "finish": rec.finish,
                "steps": [
                    {
                        "name": s.name,
                        "state": s.state,
                        "returncode": s.returncode,
                        "signal": s.signal,
                        "message": s.message,
                        "skip_reason": s.skip_reason,
                        "log": str(Path(run_dir) / s.log) if run_dir else s.log,
                    }
                    for s in rec.steps
                ],
                "lora": str(lora) if lora is not None else None,
            }
        }
        sources = list(self.logs.values())
        render_findings(
            self.findings(),
            stream=sys.stdout,
            json_mode=json_mode,
            source=sources[0] if len(sources) == 1 else sources,
            extra=extra,
        )
        return ExitCode.OK if status == "succeeded" else ExitCode.FINDINGS


def follow_and_report(
    run_dir: Path,
    *,
    json_mode: bool,
    dataset_config: str | None,
    from_start: bool = True,
    sink: LiveReport | None = None,
    lora: Path | None = None,
) -> int:
    """Follow a run to its end with live diagnosis; Ctrl-C leaves it running."""
    try:
        if sink is None:
            sink = LiveReport(
                echo=None if json_mode else sys.stdout, dataset_config=dataset_config, lora=lora
            )
        sink.run_dir = run_dir
        rec = follow_run(run_dir, sink, from_start=from_start)
    except KeyboardInterrupt:
        _say(
            f"stopped following; the run goes on ({run_dir.name}). "
            "Follow it again with `wantui attach`, stop it with `wantui run --stop`."
        )
        return ExitCode.INTERRUPTED
    return sink.report(rec, json_mode=json_mode)


def parse_steps(text: str | None) -> list[str] | None:
    if text is None:
        return None
    steps = [s.strip() for s in text.split(",") if s.strip()]
    if not steps:
        raise WantuiError("--steps needs at least one step (latents, te, train)")
    return steps


def passes_preflight(
    project: Project, steps: list[str] | None, *, skip_cached: bool, args: argparse.Namespace
) -> bool:
    """Run the fast checks, say what they found; False when the run must not start."""
    from wantui.core.gate import preflight_gate

    gate = preflight_gate(project, steps, skip_cached=skip_cached)
    _say(gate.summary())
    for f in gate.findings:
        if f.severity.value != "info":
            where = f" ({f.location})" if f.location and f.location.path else ""
            _say(f"  {f.severity.value}: {f.title}{where}")
    blocking = gate.blocking
    if not blocking:
        return True
    hint = "`wantui fix` lists the fixes, `wantui doctor` explains each finding"
    if args.force:
        _say(f"--force: starting anyway ({hint})")
        return True
    if sys.stdin.isatty() and sys.stderr.isatty() and not args.json:
        print(
            f"wantui: the run would meet {len(blocking)} known problem(s) above. Run anyway? [y/N] ",
            end="",
            file=sys.stderr,
            flush=True,
        )
        try:
            answer = sys.stdin.readline().strip().lower()
        except (OSError, ValueError):
            answer = ""
        if answer in ("y", "yes"):
            return True
    _say(f"not started: {len(blocking)} known problem(s); {hint}, `--force` runs anyway")
    if args.json:
        from wantui.cli.render import render_findings

        render_findings(
            gate.findings,
            stream=sys.stdout,
            json_mode=True,
            source=str(project.file),
            extra={"run": None, "preflight": {"steps": gate.steps, "held": True}},
        )
    return False


def cancel_finish(project: Project) -> int:
    from wantui.core.away.finish import request_cancel

    rec = latest_run(project)
    fin = rec.finish if rec is not None else None
    if rec is None or rec.run_dir is None:
        _say("no run in this project")
        return ExitCode.OK
    if fin and fin.get("state") in ("running", "done"):
        _say(f"too late: {fin.get('action')} of run {rec.run_id} has run")
        return ExitCode.FINDINGS
    request_cancel(rec.run_dir)
    _say(f"run {rec.run_id}: on_finish/on_failure cancelled")
    return ExitCode.OK


def resolve_price(project: Project, given: float | None) -> float | None:
    """--price, else WANTUI_PRICE_PER_HOUR, [project] price_per_hour, the user's config."""
    if given is not None:
        return given
    from wantui.core.away.config import load_away

    return load_away(project.root).price_per_hour


def run(args: argparse.Namespace) -> int:
    project = load_project(args.project)
    if args.cancel_finish:
        return cancel_finish(project)
    if args.stop:
        rec = latest_run(project)
        if rec is None:
            _say("no run is going in this project (no runs yet)")
            return ExitCode.OK
        if effective_status(rec) not in ("starting", "running", "stopping", "lost"):
            _say(f"no run is going in this project (latest: {rec.run_id}, {effective_status(rec)})")
            return ExitCode.OK
        _say(
            f"stopping run {rec.run_id} (SIGINT, then SIGTERM after {args.grace:g} s, then SIGKILL)"
        )
        done = stop_run(rec.run_dir, sigint_grace=args.grace)  # type: ignore[arg-type]
        _say(f"run {done.run_id}: {done.status}")
        return ExitCode.OK
    steps = parse_steps(args.steps)
    # the away settings first: a bad [notify] or on_finish is the one error shown
    price = resolve_price(project, args.price)
    if not passes_preflight(project, steps, skip_cached=args.skip_cached, args=args):
        return ExitCode.FINDINGS
    dataset = str(project.dataset_config_path()) if project.dataset_config else None
    # rules are loaded before the run starts: a broken rule file is reported first
    steps = parse_steps(args.steps)
    planned = None
    if not args.no_follow and (steps is None or "train" in steps):
        from wantui.core.plan.live import gpu_name, planned_sec_per_step

        planned = planned_sec_per_step(project, gpu_name())
    sink = (
        None
        if args.no_follow
        else LiveReport(
            echo=None if args.json else sys.stdout,
            dataset_config=dataset,
            planned_sec=planned,
            price=price,
            lora=lora_path(project),
        )
    )
    handle = start_run(
        project,
        steps,
        skip_cached=args.skip_cached,
        num_processes=args.num_processes,
        price_per_hour=price,
    )
    _say(f"run {handle.run_id} started in {handle.run_dir}")
    if args.no_follow:
        print(handle.run_id)
        return ExitCode.OK
    return follow_and_report(handle.run_dir, json_mode=args.json, dataset_config=dataset, sink=sink)
