"""Start, stop and wait for runs: the API the TUI and ``wantui run`` call."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import wantui
from wantui.core.errors import WantuiError
from wantui.core.fsutil import real_folder
from wantui.core.project import Project
from wantui.core.supervisor import lock as lockmod
from wantui.core.supervisor.plan import plan_run
from wantui.core.supervisor.procs import (
    ORIG_PYTHONPATH,
    SIGKILL,
    STOP_FILE,
    signal_step,
    step_processes,
)
from wantui.core.supervisor.rundir import (
    RunRecord,
    StepRecord,
    effective_status,
    new_run_id,
    now_iso,
    pid_alive,
    read_record,
    runner_alive,
    write_record,
)

RUNNER_LOG = "runner.log"


class RunHandle:
    """A started run. Everything it knows comes from ``run.json``, so a handle made from
    a run folder (``RunHandle(path)``) works as well as the one start_run returns."""

    def __init__(
        self, run_dir: str | os.PathLike[str], proc: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.run_dir = Path(run_dir)
        self._proc = proc

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    def record(self) -> RunRecord:
        return read_record(self.run_dir)

    def status(self) -> str:
        return effective_status(self.record())

    def wait(self, timeout: float | None = None, poll: float = 0.1) -> RunRecord:
        """Block until the run is over (or ``timeout``); returns the last record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            rec = self.record()
            if effective_status(rec) not in ("starting", "running", "stopping"):
                return rec
            if deadline is not None and time.monotonic() > deadline:
                return rec
            time.sleep(poll)

    def stop(self, **kw: float) -> RunRecord:
        return stop_run(self.run_dir, **kw)


def _runner_env() -> dict[str, str]:
    """The runner must import this wantui even when it is not installed (a checkout)."""
    env = dict(os.environ)
    env[ORIG_PYTHONPATH] = env.get("PYTHONPATH", "")
    root = str(Path(wantui.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONUNBUFFERED", None)  # the runner's children get it from their step env
    return env


def runs_folder(project: Project) -> Path:
    """The project's runs folder, made: below the project folder each part a real folder
    that stays inside it (a ``runs -> ~/somewhere`` link is refused, as for ``.wantui/``);
    a ``runs_dir`` set to a folder outside the project is the setting's, made as named."""
    runs = Path(os.path.normpath(project.runs_path()))
    root = Path(os.path.normpath(project.root))
    try:
        parts = runs.relative_to(root).parts
    except ValueError:
        try:
            runs.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WantuiError(
                f"cannot create the runs folder: {exc.strerror or exc}", path=runs
            ) from None
        return runs
    return real_folder(root, *parts, what="its runs", where="project")


def start_run(
    project: Project,
    steps: list[str] | None = None,
    *,
    detach: bool = True,
    skip_cached: bool = False,
    num_processes: int | None = None,
    platform: str = sys.platform,
    startup_timeout: float = 20.0,
    price_per_hour: float | None = None,
) -> RunHandle:
    """Start the pipeline (or the chosen steps) under a detached runner.

    Raises WantuiError for a bad step list and :class:`lock.RunLocked` when another run
    holds the project. Returns once the runner has taken over the run.
    ``price_per_hour`` (``--price``) is kept in run.json for the meter; without it the
    runner takes the project's or the user's price (wantui/core/away/config.py).
    """
    from wantui.core.away.config import load_away
    from wantui.core.outputs import lora_path

    load_away(project.root)  # a bad [notify] or on_finish is reported before the run
    lora = None
    if "train" in project.steps and (steps is None or "train" in steps):
        with contextlib.suppress(Exception):  # no --output_dir: no LoRA to check
            lora = lora_path(project)
    plans = plan_run(
        project, steps, skip_cached=skip_cached, num_processes=num_processes, platform=platform
    )
    runs_dir = runs_folder(project)
    fd = lockmod.acquire(runs_dir)
    try:
        _refuse_if_orphaned_step(runs_dir)
        rid = new_run_id(runs_dir)
        run_dir = runs_dir / rid
        record = RunRecord(
            run_id=rid,
            project=str(project.root),
            cwd=str(project.cwd()),
            platform=platform,
            steps=[
                StepRecord(
                    name=p.name,
                    argv=p.argv,
                    env=p.env,
                    log=f"{p.name}.log",
                    script=str(p.script),
                    state="skipped" if p.skip_reason else "pending",
                    skip_reason=p.skip_reason,
                    notes=list(p.notes),
                )
                for p in plans
            ],
            price_per_hour=price_per_hour,
            lora=str(lora) if lora is not None else None,
        )
        try:
            write_record(run_dir, record)
        except OSError as exc:
            raise WantuiError(
                f"cannot write the run record: {exc.strerror}", path=run_dir
            ) from None
        kwargs: dict = {}
        if sys.platform == "win32":  # pragma: no cover
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | (  # type: ignore[attr-defined]
                subprocess.DETACHED_PROCESS if detach else 0  # type: ignore[attr-defined]
            )
            cmd = [sys.executable, "-m", "wantui.core.supervisor.runner", str(run_dir)]
        else:
            kwargs["start_new_session"] = detach
            kwargs["pass_fds"] = (fd,)
            cmd = [
                sys.executable,
                "-m",
                "wantui.core.supervisor.runner",
                str(run_dir),
                "--lock-fd",
                str(fd),
            ]
        try:
            with open(run_dir / RUNNER_LOG, "ab") as rlog:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=rlog,
                    stderr=subprocess.STDOUT,
                    cwd=str(project.root),
                    env=_runner_env(),
                    **kwargs,
                )
        except OSError as exc:
            record.status, record.ended = "failed", now_iso()
            record.message = f"cannot start the runner: {exc.strerror or exc}"
            with contextlib.suppress(OSError):
                write_record(run_dir, record)
            raise WantuiError(record.message, path=run_dir) from None
        lockmod.write_holder(fd, run_id=rid, pid=proc.pid)
    finally:
        os.close(fd)  # the runner holds the lock through its inherited copy
    # reap the runner when it ends so a long-lived TUI collects no zombies
    threading.Thread(target=proc.wait, name=f"reap-{rid}", daemon=True).start()
    handle = RunHandle(run_dir, proc)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        rec = handle.record()
        if rec.status != "starting":
            break
        if proc.poll() is not None:
            tail = _tail(run_dir / RUNNER_LOG)
            raise WantuiError(
                f"the run could not start: {tail or f'runner exited {proc.returncode}'}",
                path=run_dir,
            )
        time.sleep(0.02)
    return handle


def _refuse_if_orphaned_step(runs_dir: Path) -> None:
    """A run whose runner died may have left its step running (own process group): two
    trainings on one GPU would fail both, so say so instead of starting another."""
    from wantui.core.supervisor.rundir import latest_run

    last = latest_run(runs_dir)
    if last is None or effective_status(last) != "lost":
        return
    step = last.current_step()
    if step is not None and step_alive(last, step):
        raise WantuiError(
            f"run {last.run_id} lost its runner but its step {step.name} is still running "
            f"(process group {step.pgid}); stop it with `wantui run --stop` first",
            path=last.run_dir,
        )


def _tail(path: Path, limit: int = 300) -> str:
    try:
        text = path.read_bytes()[-4096:].decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return text.splitlines()[-1][:limit] if text else ""


def _signal_step(rec: RunRecord, step: StepRecord, sig: int) -> None:
    """The step's process group and every process of its tree, verified to be this run's
    (boot id, start times): never whatever reused a recorded pid."""
    if sys.platform == "win32":  # pragma: no cover
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if sig == signal.SIGINT:
                os.kill(step.pid or 0, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            else:
                subprocess.run(["taskkill", "/T", "/F", "/PID", str(step.pid)], capture_output=True)
        return
    signal_step(rec, step, sig)


def step_alive(rec: RunRecord, step: StepRecord) -> bool:
    """Some process of the step still runs (its group or its tree, verified)."""
    if sys.platform == "win32":  # pragma: no cover
        return pid_alive(step.pid)
    group_ok, tree = step_processes(rec, step)
    return group_ok or bool(tree)


def stop_run(
    run_dir: str | os.PathLike[str],
    *,
    sigint_grace: float = 10.0,
    sigterm_grace: float = 5.0,
    runner_grace: float = 5.0,
) -> RunRecord:
    """Stop a run: SIGINT to the step's process group, SIGTERM after ``sigint_grace``,
    SIGKILL after ``sigterm_grace`` more; no later step starts. Returns the final record."""
    run_dir = Path(run_dir)
    rec = read_record(run_dir)
    if effective_status(rec) not in ("starting", "running", "stopping", "lost"):
        return rec
    # "lost" (the runner died) still goes on: its step may be alive in its own group
    try:
        (run_dir / STOP_FILE).write_text(now_iso() + "\n")
    except OSError:
        pass  # a full disk: SIGUSR1 below tells the runner all the same
    if hasattr(signal, "SIGUSR1") and runner_alive(rec):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(rec.runner_pid, signal.SIGUSR1)  # type: ignore[arg-type]
    escalation = [
        (signal.SIGINT, sigint_grace),
        (signal.SIGTERM, sigterm_grace),
        (SIGKILL, 2.0),
    ]
    sent: dict[int | None, tuple[int, float]] = {}  # pgid -> (stage, time sent)
    idle_since: float | None = None
    while True:
        rec = read_record(run_dir)
        if rec.finished:
            return rec
        step = rec.current_step()
        now = time.monotonic()
        if step is not None and step_alive(rec, step):
            stage, when = sent.get(step.pgid, (-1, 0.0))
            if stage < 0 or (stage < len(escalation) - 1 and now - when >= escalation[stage][1]):
                stage += 1
                _signal_step(rec, step, escalation[stage][0])
                sent[step.pgid] = (stage, now)
        elif not runner_alive(rec):
            # the runner is dead (killed, crashed): nobody else will write the record
            rec.status, rec.ended = "stopped", rec.ended or now_iso()
            rec.message = rec.message or "stopped; the runner was gone"
            for s in rec.steps:
                if s.state == "running":
                    s.state, s.ended = "stopped", s.ended or now_iso()
                elif s.state == "pending":
                    s.state, s.message = "cancelled", "not run: the run was stopped"
            with contextlib.suppress(OSError):
                write_record(run_dir, rec)
            return rec
        else:
            idle_since = idle_since or now
            if now - idle_since > runner_grace and runner_alive(rec):
                # no step alive, yet the runner has not recorded the end: it is stuck, end it
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(rec.runner_pid, SIGKILL)
        time.sleep(0.05)
