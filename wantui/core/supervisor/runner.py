"""The detached runner: ``python -m wantui.core.supervisor.runner RUN_DIR [--lock-fd N]``.

Started by :func:`start_run` in its own session with stdin from /dev/null, it ignores
SIGHUP, so closing the TUI or losing SSH does not stop the run. It runs the steps of
``run.json`` in order, each as a child in its own session/process group writing straight
to its log file (no pipe to block on, nothing to lose when wantui dies), and records
pids, times, exit codes and signals back into run.json (its only writer while it lives).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from wantui.core.errors import WantuiError
from wantui.core.supervisor import lock as lockmod
from wantui.core.supervisor.diagnoser import RunDiagnoser
from wantui.core.supervisor.procs import (
    LEFTOVER_GRACE,
    ORIG_PYTHONPATH,
    RESERVE_BYTES,
    RESERVE_FILE,
    RUN_MARKER,
    SIGKILL,
    STOP_FILE,
    become_subreaper,
    boot_id,
    cap_log,
    disk_note,
    group_alive,
    process_tree,
    signal_tree,
    start_ticks,
    step_log_max,
)
from wantui.core.supervisor.rundir import RunRecord, StepRecord, now_iso, read_record, write_record


class Runner:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.record: RunRecord = read_record(run_dir)
        self.stop_requested = False
        self.current: subprocess.Popen[bytes] | None = None
        self.unsaved = False
        self.lock_fd: int | None = None
        self.away = None  # wantui.core.away.watch.AwayWatch, when it could start
        self.diagnoser: RunDiagnoser | None = None

    def start_away(self) -> None:
        """Notifications, the meter and the end action (wantui/core/away): a bad setting
        is reported in runner.log and the run goes on without them."""
        try:
            from wantui.core.away.config import load_away
            from wantui.core.away.watch import AwayWatch

            self.away = AwayWatch(self, load_away(Path(self.record.project)))
        except Exception as exc:  # noqa: BLE001 - never stops the run
            print(f"wantui runner: notifications and on_finish are off: {exc}", file=sys.stderr)

    def away_call(self, name: str, *args: object) -> None:
        if self.away is None:
            return
        try:
            getattr(self.away, name)(*args)
        except Exception:  # noqa: BLE001 - a notification never breaks the run
            traceback.print_exc()

    # -- persistence -----------------------------------------------------------------
    def save(self) -> None:
        """Write run.json; on a full disk use the reserve, else retry at the next change."""
        for attempt in range(2):
            try:
                write_record(self.run_dir, self.record)
                self.unsaved = False
                return
            except OSError as exc:
                self.unsaved = True
                reserve = self.run_dir / RESERVE_FILE
                if attempt == 0 and exc.errno == errno.ENOSPC and reserve.exists():
                    # a step filled the disk: free the space kept for this moment
                    with contextlib.suppress(OSError):
                        reserve.unlink()
                    continue
                print(f"wantui runner: cannot write run.json: {exc}", file=sys.stderr, flush=True)
                return

    def make_reserve(self) -> None:
        """Keep some space aside so the record can still be written when a step fills
        the disk with its log (best effort)."""
        with contextlib.suppress(OSError), open(self.run_dir / RESERVE_FILE, "wb") as fh:
            fh.write(b"\0" * RESERVE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())

    def check_stop(self) -> bool:
        if (self.run_dir / STOP_FILE).exists():
            self.stop_requested = True
        return self.stop_requested

    # -- signals ---------------------------------------------------------------------
    def on_stop_signal(self, signum: int, frame: object) -> None:
        """SIGTERM/SIGINT to the runner: stop the run (ask the step to stop first)."""
        self.stop_requested = True
        proc = self.current
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                if sys.platform == "win32":  # pragma: no cover
                    proc.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
                else:
                    os.killpg(proc.pid, signal.SIGINT)

    def on_stop_notice(self, signum: int, frame: object) -> None:
        """SIGUSR1 from stop_run: it signals the step's group itself; just start nothing more."""
        self.stop_requested = True

    # -- the diagnosis ---------------------------------------------------------------
    def diagnose_end(self, step: StepRecord) -> None:
        if self.diagnoser is None:
            return
        if step.returncode is not None:
            status: int | None = step.returncode
        elif step.signal:
            status = -step.signal
        else:
            status = 1 if step.state == "failed" else None  # could not start
        try:
            self.diagnoser.step_ended(step.name, status, stopped=step.state == "stopped")
        except Exception as exc:  # noqa: BLE001 - the run goes on; front ends diagnose
            print(f"wantui: the run's diagnosis failed: {exc!r}", file=sys.stderr, flush=True)
            self.diagnoser = None

    # -- one step --------------------------------------------------------------------
    def cannot_start(self, step: StepRecord, message: str) -> None:
        step.state = "failed"
        step.message = f"cannot start: {message}"
        step.started = step.started or now_iso()
        step.ended = now_iso()
        self.save()

    def run_step(self, step: StepRecord) -> None:
        exe = step.argv[0] if step.argv else ""
        if (
            not exe
            or (os.sep not in exe and shutil.which(exe) is None)
            or (os.sep in exe and not os.path.exists(exe))
        ):
            return self.cannot_start(step, f"interpreter not found: {exe or '(empty argv)'}")
        if os.sep in exe and not os.access(exe, os.X_OK):
            return self.cannot_start(step, f"interpreter is not executable: {exe}")
        if step.script and not os.path.isfile(step.script):
            return self.cannot_start(step, f"script not found: {step.script}")
        if not os.path.isdir(self.record.cwd):
            return self.cannot_start(step, f"working folder missing: {self.record.cwd}")
        log_path = self.run_dir / step.log
        try:
            log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        except OSError as exc:
            return self.cannot_start(step, f"cannot open its log file {log_path}: {exc.strerror}")
        env = dict(os.environ)
        # the runner's PYTHONPATH points at wantui; the pipeline gets the user's own back
        orig = env.pop(ORIG_PYTHONPATH, None)
        if orig:
            env["PYTHONPATH"] = orig
        elif orig is not None:
            env.pop("PYTHONPATH", None)
        # a secret is kept as a reference ($WANDB_API_KEY) in wantui.toml and run.json;
        # it is expanded only here, from the runner's environment
        from wantui.core.args.parse import expand_secret_refs

        env.update({k: expand_secret_refs(v, env) for k, v in step.env.items()})
        env[RUN_MARKER] = self.record.run_id  # stop finds the step's tree by it
        env.pop("WANTUI_NOTIFY", None)  # notification URLs are secrets the step needs not
        argv = [expand_secret_refs(a, env) for a in step.argv]
        kwargs: dict = {}
        if sys.platform == "win32":  # pragma: no cover
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        else:
            kwargs["start_new_session"] = True
        try:
            with log:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.record.cwd,
                    env=env,
                    close_fds=True,
                    **kwargs,
                )
        except OSError as exc:
            return self.cannot_start(step, f"{exc.strerror or exc}: {exe}")
        self.current = proc
        step.pid = proc.pid
        step.pgid = proc.pid if sys.platform != "win32" else None
        step.start_ticks = start_ticks(proc.pid)
        step.state = "running"
        step.started = now_iso()
        self.save()
        if self.diagnoser is not None:
            self.diagnoser.step_started(step.name, log_path)
        if self.check_stop():  # a stop that raced the start
            self.on_stop_signal(signal.SIGINT, None)
        self.away_call("step_started", step.name, log_path)
        cap = step_log_max()
        cuts: list[int] = []
        done = threading.Event()

        def capper() -> None:  # a thread: proc.wait() stays a plain blocking wait
            while not done.wait(1.0):
                if cap:
                    cuts.append(cap_log(log_path, cap))
                self.away_call("tick")  # progress, NaN, stalls: notifications

        thread = threading.Thread(target=capper, name="wantui-log-cap", daemon=True)
        thread.start()
        rc = proc.wait()
        done.set()
        thread.join()  # never two cuts of one file at once
        self.away_call("step_ended")
        cut = sum(cuts) + cap_log(log_path, cap)
        if cut:
            step.notes.append(
                f"its log passed the {cap}-byte cap (WANTUI_STEP_LOG_MAX): {cut} bytes from"
                " its middle were cut, its start and end kept"
            )
        self.current = None
        step.ended = now_iso()
        if rc < 0:
            step.returncode, step.signal = None, -rc
        else:
            step.returncode = rc
        self.reap_leftovers(step)
        if rc == 0 and not self.stop_requested:
            step.state = "succeeded"
        elif self.check_stop():
            step.state = "stopped"
        else:
            step.state = "failed"
            if rc != 0:
                step.message = disk_note(self.run_dir) or step.message
        self.save()
        return None

    def leftovers(self, step: StepRecord) -> set[int]:
        """What the step left running: the processes below the runner (a subreaper: a
        daemonised grandchild is reparented here) or carrying the run's marker."""
        self.reap_adopted()
        return process_tree([os.getpid()], self.record.run_id) - {os.getpid()}

    def reap_adopted(self) -> None:
        """Collect dead orphans reparented to the runner, between steps only: while a
        step runs, proc.wait() must get its status."""
        if self.current is not None or not hasattr(os, "WNOHANG"):
            return
        for _ in range(10000):
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except (ChildProcessError, OSError):
                return
            if pid == 0:
                return

    def reap_leftovers(self, step: StepRecord) -> None:
        """Processes the step left behind (workers of a dead launcher, a daemonised
        grandchild) would hold GPU memory and block the next step: TERM them, then KILL."""

        def remaining() -> set[int]:
            tree = self.leftovers(step)  # reaps dead orphans first: a zombie is not alive
            return tree if tree or not group_alive(step.pgid) else {-1}

        if not remaining():
            return
        step.notes.append("the step left processes behind; they were stopped")
        for sig, wait in ((signal.SIGTERM, LEFTOVER_GRACE), (SIGKILL, 1.0)):
            with contextlib.suppress(OSError):
                os.killpg(step.pgid, sig)  # type: ignore[arg-type]
            signal_tree(remaining() - {-1}, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and remaining():
                time.sleep(0.05)
            if not remaining():
                return

    # -- the run ---------------------------------------------------------------------
    def run(self) -> int:
        rec = self.record
        rec.runner_pid = os.getpid()
        rec.runner_start_ticks = start_ticks(rec.runner_pid)
        rec.boot_id = boot_id()
        rec.status = "running"
        rec.started = now_iso()
        self.save()
        self.make_reserve()
        self.start_away()
        self.diagnoser = start_diagnoser(self.run_dir, rec)
        failed: str | None = None
        for step in rec.steps:
            if step.state == "skipped":
                continue
            if self.check_stop():
                step.state, step.message = "cancelled", "not run: the run was stopped"
                continue
            if failed:
                step.state, step.message = "cancelled", f"not run: step {failed} failed"
                continue
            self.run_step(step)
            self.diagnose_end(step)
            if step.state == "failed":
                failed = step.name
        if self.diagnoser is not None:
            try:
                self.diagnoser.close()  # findings.jsonl complete before the run is said ended
            except Exception as exc:  # noqa: BLE001 - the run's end must still be saved
                print(f"wantui: the run's diagnosis failed: {exc!r}", file=sys.stderr, flush=True)
        if any(s.state == "stopped" for s in rec.steps) or (self.stop_requested and not failed):
            rec.status = "stopped"
        elif failed or any(s.state == "failed" for s in rec.steps):
            rec.status = "failed"
        else:
            rec.status = "succeeded"
        rec.ended = now_iso()
        # free the project before saying the run ended, so that whoever reads the end
        # can start the next run at once
        if self.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)
            self.lock_fd = None
        with contextlib.suppress(OSError):
            (self.run_dir / RESERVE_FILE).unlink()
        for _ in range(50):  # a full disk may free up; the final state matters most
            self.save()
            if not self.unsaved:
                break
            time.sleep(0.2)
        self.away_call("run_ended")  # after the end is saved: followers are not held
        if self.unsaved:
            self.save()
        return 0 if rec.status == "succeeded" else 1


def start_diagnoser(run_dir: Path, rec: RunRecord) -> RunDiagnoser | None:
    """The run's diagnosis (findings.jsonl), or None when it cannot start: the run goes
    on, said in runner.log, and front ends diagnose the logs themselves."""
    try:
        context: dict[str, str] = {}
        try:
            from wantui.core.project import load_project

            project = load_project(rec.project)
            if project.dataset_config:
                context["dataset_config"] = str(project.dataset_config_path())
        except WantuiError:
            pass
        return RunDiagnoser(run_dir, context)
    except Exception as exc:  # noqa: BLE001 - never a reason to not run the pipeline
        print(f"wantui: the run's diagnosis cannot start: {exc!r}", file=sys.stderr, flush=True)
        return None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(
            "usage: python -m wantui.core.supervisor.runner RUN_DIR [--lock-fd N]", file=sys.stderr
        )
        return 2
    run_dir = Path(args[0])
    lock_fd = int(args[args.index("--lock-fd") + 1]) if "--lock-fd" in args else None
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # losing SSH must not stop training
    become_subreaper()
    try:
        runner = Runner(run_dir)
    except Exception as exc:  # noqa: BLE001 - report in runner.log, nothing else can
        print(f"wantui runner: {exc}", file=sys.stderr)
        return 2
    if lock_fd is None:  # not handed one (Windows, or started by hand): take it ourselves
        try:
            lock_fd = lockmod.acquire(run_dir.parent)
        except lockmod.RunLocked as exc:
            runner.record.status, runner.record.message = "failed", str(exc)
            runner.save()
            return 1
    lockmod.write_holder(lock_fd, run_id=runner.record.run_id, pid=os.getpid())
    runner.lock_fd = lock_fd
    signal.signal(signal.SIGTERM, runner.on_stop_signal)
    signal.signal(signal.SIGINT, runner.on_stop_signal)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, runner.on_stop_notice)
    try:
        return runner.run()
    except Exception as exc:  # noqa: BLE001 - the record must say the run ended
        traceback.print_exc()
        runner.record.status = "failed"
        runner.record.message = f"internal error in the runner: {type(exc).__name__}: {exc}"
        runner.record.ended = now_iso()
        runner.save()
        return 3


if __name__ == "__main__":
    sys.exit(main())
