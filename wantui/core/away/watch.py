"""The runner's companion: watch the steps, send the notifications, run the end action.

Everything here is called by the detached runner (:mod:`wantui.core.supervisor.runner`)
inside ``try`` blocks: a bug or a dead network here never stops or slows a step. The
messages go out from the notifier's own thread; the runner waits for them (bounded) only
after the run's final state is saved.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from wantui.core.away import finish as finishmod
from wantui.core.away.config import AwayConfig
from wantui.core.away.meter import clock, cost, meter_for_record
from wantui.core.away.notify import Message, Notifier, scrub
from wantui.core.finding import sort_findings
from wantui.core.progress import Progress, parse_progress

TAIL_CHUNK = 1 << 20  # bytes read from a step's log per tick (the rest next tick)
DRAIN_S = 60.0  # how long the runner waits for the last messages before it exits


def _money(seconds: float, price: float | None) -> str:
    c = cost(seconds, price)
    return "" if c is None else f", ${c:.2f}"


def _safe(text: str, urls: list[str]) -> str:
    """A log line on its way to a third-party service: no secrets, no user, no URL."""
    from wantui.core.redact import context_from_machine, redact

    return scrub(redact(text, context_from_machine()), urls)[:400]


def diagnose_run(
    run_dir: Path, logs: list[str], exit_status: int | None, dataset_config: str | None
):
    """The findings of a run's step logs read as one run (``wantui diagnose`` on them),
    root cause first."""
    from wantui.core.finding import sort_findings
    from wantui.core.logfiles import diagnose_logs
    from wantui.core.rules import load_rules

    ctx = {"dataset_config": dataset_config} if dataset_config else {}
    names = [str(run_dir / log) for log in logs if (run_dir / log).is_file()]
    session, _empty = diagnose_logs(names, load_rules(), ctx, exit_status)
    return sort_findings(session.findings())


def _findings_file(run_dir: Path, step: str) -> dict[str, Any] | None:
    """The top error the run's own diagnosis (findings.jsonl) found, root cause first:
    ``step``'s own when it has one, else the run's. None without the file."""
    from wantui.core.supervisor.diagnoser import FindingsTail

    tail = FindingsTail(run_dir)
    if not tail.exists():
        return None
    tail.poll()
    errors = [(f, s) for f, s in zip(tail.findings, tail.steps) if f.severity.value == "error"]
    if not errors:
        return None
    order = {id(f): i for i, f in enumerate(sort_findings([f for f, _ in errors]))}
    errors.sort(key=lambda fs: (fs[1] != step, order[id(fs[0])]))
    return errors[0][0].to_json()


class StepWatch:
    """Progress, NaN and stalls of the running step, from its log as it grows."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self.offset = 0
        self.partial = ""
        self.started = time.monotonic()
        self.last_change = self.started
        self.last: Progress | None = None
        self.nan_sent = False
        self.stall_sent = False

    def poll(self) -> list[Progress]:
        """New progress states written since the last call."""
        try:
            with open(self.log, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < self.offset:  # the log was cut (WANTUI_STEP_LOG_MAX)
                    self.offset = size
                fh.seek(self.offset)
                data = fh.read(TAIL_CHUNK)
        except OSError:
            return []
        self.offset += len(data)
        text = self.partial + data.decode("utf-8", "replace")
        pieces = text.replace("\r", "\n").split("\n")
        self.partial = pieces.pop()[-4096:]
        found = []
        for piece in pieces:
            if "it/s" in piece or "s/it" in piece:
                p = parse_progress(piece)
                if p is not None:
                    found.append(p)
        for p in found:
            if self.last is None or (p.step, p.desc) != (self.last.step, self.last.desc):
                self.last_change = time.monotonic()
            self.last = p
        return found


class AwayWatch:
    def __init__(self, runner: Any, config: AwayConfig) -> None:
        self.runner = runner
        self.config = config
        self.record = runner.record
        self.run_dir: Path = runner.run_dir
        price = self.record.price_per_hour
        self.price = price if price is not None else config.price_per_hour
        self.notifier = Notifier(config.urls, on_report=self.report)
        self.step: StepWatch | None = None
        self.train_progress: Progress | None = None

    # -- what the runner calls ---------------------------------------------------------
    def report(self, text: str) -> None:
        """A problem of the away machinery (never a URL): runner.log and run.json."""
        print(f"wantui runner: {text}", file=sys.stderr, flush=True)
        self.record.notices.append(text)
        self.runner.unsaved = True  # written with the next save

    def notify(self, event: str, title: str, body: str, kind: str = "info") -> None:
        if self.config.wants(event):
            self.notifier.send(Message(event, title, body, kind))

    def step_started(self, name: str, log: Path) -> None:
        self.step = StepWatch(name, log)

    def tick(self) -> None:
        s = self.step
        if s is None:
            return
        for p in s.poll():
            if p.desc == "steps" or s.name == "train":
                self.train_progress = p
            if p.avr_loss is not None and p.avr_loss != p.avr_loss and not s.nan_sent:
                s.nan_sent = True
                self.notify(
                    "nan",
                    f"wantui: loss is NaN in run {self.record.run_id}",
                    f"avr_loss=nan at step {p.step}{'/' + str(p.total) if p.total else ''} of"
                    f" {s.name}: training has diverged and goes on burning GPU time."
                    f" {self._meter_text()}",
                    "warning",
                )
        stall_s = self.config.stall_minutes * 60
        if stall_s and not s.stall_sent and time.monotonic() - s.last_change > stall_s:
            s.stall_sent = True
            where = f" (last progress: step {s.last.step})" if s.last else ""
            self.notify(
                "stall",
                f"wantui: no progress for {self.config.stall_minutes:g} min in run {self.record.run_id}",
                f"Step {s.name} has shown no progress for {self.config.stall_minutes:g}"
                f" minutes{where}. {self._meter_text()}",
                "warning",
            )

    def step_ended(self) -> None:
        self.tick()
        self.step = None

    def run_ended(self) -> None:
        rec = self.record
        if rec.status == "failed":
            self.notify("failed", *self._failure_message(), "failure")
        elif rec.status == "succeeded":
            self.notify("finished", *self._finished_message(), "success")
        self.end_action()
        if rec.status == "failed" and not (rec.finish or {}).get("ran"):
            self.wait_idle()
        self.notifier.drain(DRAIN_S)

    # -- messages ----------------------------------------------------------------------
    def _meter_text(self) -> str:
        r = meter_for_record(self.record, self.price, self.train_progress)
        return f"Meter: {r.line()}." if r is not None else ""

    def _failure_message(self) -> tuple[str, str]:
        rec = self.record
        step = next((s for s in rec.steps if s.state == "failed"), None)
        name = step.name if step else "?"
        lines: list[str] = []
        top_id = None
        if step is not None:
            top = self._top_finding(step)
            if top is not None:
                top_id = top["id"]
                lines.append(f"{top['title']} [{top['id']}]")
                if top.get("fix"):
                    lines.append(f"Fix: {top['fix']}")
                if top.get("line"):
                    lines.append(f"Decisive line: {_safe(top['line'], self.config.urls)}")
            else:
                lines.append("No known cause found in its log (`wantui diagnose` it).")
            if step.message:
                lines.append(f"Step {name}: {_safe(step.message, self.config.urls)}")
        r = meter_for_record(rec, self.price)
        if r is not None:
            lines.append(f"Run {rec.run_id}: {r.line()}.")
        if self.price is not None:
            lines.append(f"The GPU is idle now: an idle hour costs ${self.price:.2f}.")
        title = f"wantui: {name} failed" + (f" ({top_id})" if top_id else "")
        return title, "\n".join(lines)

    def _top_finding(self, step: Any) -> dict[str, Any] | None:
        row = _findings_file(self.run_dir, step.name)
        if row is not None:
            fixes = row.get("fixes") or []
            ev = row.get("evidence") or []
            return {
                "id": row.get("rule") or row.get("catalog") or "?",
                "title": str(row.get("title")),
                "fix": (fixes[0].get("label") if fixes and isinstance(fixes[0], dict) else None)
                or ((row.get("advice") or [None])[0]),
                "line": f"line {ev[0].get('line')}: {ev[0].get('text')}"
                if ev and isinstance(ev[0], dict)
                else None,
            }
        status = (
            step.returncode
            if step.returncode is not None
            else (-step.signal if step.signal else None)
        )
        dataset = None
        with contextlib.suppress(Exception):
            from wantui.core.project import load_project

            p = load_project(self.record.project)
            dataset = str(p.dataset_config_path()) if p.dataset_config else None
        try:
            logs = [s.log for s in self.record.steps if s.started and s.log]
            found = diagnose_run(self.run_dir, logs, status, dataset)
        except Exception as exc:  # noqa: BLE001 - a message without a diagnosis still goes
            self.report(f"could not diagnose {step.log}: {type(exc).__name__}: {exc}")
            return None
        errors = [f for f in found if f.severity.value == "error"]
        if not errors:
            return None
        f = errors[0]
        fix = f.fixes[0].label if f.fixes else (f.advice[0] if f.advice else None)
        return {
            "id": f.rule,
            "title": f.title,
            "fix": fix,
            "line": (f"line {f.evidence[0].line}: " + f.evidence[0].text) if f.evidence else None,
        }

    def _finished_message(self) -> tuple[str, str]:
        rec = self.record
        lines = []
        if rec.lora:
            bad = finishmod.verify_lora(rec.lora)
            lines.append(f"LoRA: {rec.lora}" + (f" (NOT verified: {bad})" if bad else ""))
        else:
            lines.append("The training step names no --output_dir/--output_name.")
        r = meter_for_record(rec, self.price)
        if r is not None:
            lines.append(f"Took {clock(r.elapsed_s)}{_money(r.elapsed_s, self.price)}.")
        return f"wantui: run {rec.run_id} finished", "\n".join(lines)

    # -- the end action and the idle GPU -----------------------------------------------
    def end_action(self) -> None:
        rec = self.record
        if rec.finish is not None:  # recorded: never twice
            return
        which, command, why = finishmod.decide(
            rec.status, self.config.on_finish, self.config.on_failure, rec.lora
        )
        if which is None:
            if why:
                rec.finish = {"action": "on_finish", "state": "skipped", "message": why}
                self.runner.save()
            return
        delay = self.config.finish_delay
        rec.finish = {
            "action": which,
            "state": "countdown",
            "delay_s": delay,
            "deadline": time.time() + delay,
        }
        self.runner.save()
        if not finishmod.countdown(self.run_dir, delay):
            rec.finish.update(state="cancelled")
            self.runner.save()
            return
        rec.finish.update(state="running", ran=True)
        self.runner.save()  # recorded before it runs: a crash here cannot run it again
        self.notifier.drain(DRAIN_S)  # the action may stop this machine: send first
        rc, how = finishmod.run_command(command, rec.cwd, self.run_dir)  # type: ignore[arg-type]
        rec.finish.update(state="done", returncode=rc, message=how)
        self.runner.save()

    def wait_idle(self) -> None:
        """After a failure: when no new run starts within ``idle_minutes``, say so."""
        wait = self.config.idle_minutes * 60
        if not wait or not self.config.wants("idle"):
            return
        runs = self.run_dir.parent
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            with contextlib.suppress(OSError):
                if any(p.is_dir() and p.name > self.record.run_id for p in runs.iterdir()):
                    return  # someone started the next run
        idle = f" An idle hour costs ${self.price:.2f}." if self.price is not None else ""
        self.notify(
            "idle",
            f"wantui: GPU idle for {self.config.idle_minutes:g} min after a failure",
            f"Run {self.record.run_id} failed and no run has started since.{idle}",
            "warning",
        )
