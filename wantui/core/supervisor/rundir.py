"""The on-disk record of a run: ``runs/<run-id>/run.json`` plus one log per step.

run.json is the single source of truth shared by the runner (its only writer while the
run lives), ``wantui attach`` and the TUI (readers). It is always replaced atomically so
a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.errors import WantuiError
from wantui.core.fsutil import new_file_mode

RUN_FILE = "run.json"
FORMAT_VERSION = 1
ACTIVE = ("starting", "running", "stopping")
FINAL = ("succeeded", "failed", "stopped", "lost")


def now_iso() -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        + f".{int(time.time() * 1000) % 1000:03d}Z"
    )


def new_run_id(runs_dir: Path) -> str:
    """A time-sortable id, ``YYYYmmdd-HHMMSS-mmm`` (UTC), unique in ``runs_dir``.

    The folder is created here (exclusively) so two callers never share an id.
    """
    runs_dir.mkdir(parents=True, exist_ok=True)
    t = time.time()
    for bump in range(1000):
        ts = t + bump / 1000
        rid = time.strftime("%Y%m%d-%H%M%S", time.gmtime(ts)) + f"-{int(ts * 1000) % 1000:03d}"
        try:
            (runs_dir / rid).mkdir()
        except FileExistsError:
            continue
        return rid
    raise WantuiError("cannot create a new run folder", path=runs_dir)


@dataclass
class StepRecord:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # overrides on top of wantui's env
    log: str = ""  # file name inside the run folder
    script: str | None = None  # checked before start: a clear "cannot start"
    state: str = "pending"  # pending | running | succeeded | failed | skipped | stopped
    skip_reason: str | None = None
    pid: int | None = None
    pgid: int | None = None
    start_ticks: int | None = None  # /proc/PID/stat field 22: tells a reused PID apart
    started: str | None = None
    ended: str | None = None
    returncode: int | None = None
    signal: int | None = None
    message: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RunRecord:
    run_id: str
    project: str
    cwd: str
    steps: list[StepRecord]
    status: str = "starting"  # starting | running | stopping | succeeded | failed | stopped | lost
    created: str = field(default_factory=now_iso)
    started: str | None = None
    ended: str | None = None
    runner_pid: int | None = None
    runner_start_ticks: int | None = None
    boot_id: str | None = None  # the boot the pids belong to (/proc/sys/kernel/random/boot_id)
    platform: str = sys.platform
    message: str | None = None
    version: int = FORMAT_VERSION
    # while you are away (wantui/core/away): the meter's price, the LoRA the run should
    # leave, the end action's record (never run twice), problems sending notifications
    price_per_hour: float | None = None
    lora: str | None = None
    finish: dict[str, Any] | None = None
    notices: list[str] = field(default_factory=list)
    run_dir: Path | None = field(default=None, compare=False)  # not stored

    # -- helpers ---------------------------------------------------------------------
    def step(self, name: str) -> StepRecord:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def current_step(self) -> StepRecord | None:
        return next((s for s in self.steps if s.state == "running"), None)

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("run_dir", None)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], run_dir: Path | None = None) -> RunRecord:
        """Raises ValueError naming the field when a value has the wrong type: the file
        may have been edited, or come with a folder someone else made."""
        raw_steps = data.get("steps", [])
        if not isinstance(raw_steps, list) or not all(isinstance(x, dict) for x in raw_steps):
            raise ValueError("field 'steps' must be a list of objects")
        steps = [
            StepRecord(**_checked(StepRecord, s, f"steps[{i}].")) for i, s in enumerate(raw_steps)
        ]
        rest = _checked(cls, data, "")
        rest.pop("steps", None)
        rest.pop("run_dir", None)
        rec = cls(steps=steps, **rest)
        rec.run_dir = run_dir
        return rec


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = cls.__dataclass_fields__.keys()  # type: ignore[attr-defined]
    return {k: v for k, v in data.items() if k in names}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# what each annotation accepts (the dataclasses use string annotations)
_TYPE_CHECKS: dict[str, Any] = {
    "str": lambda v: isinstance(v, str),
    "str | None": lambda v: v is None or isinstance(v, str),
    "int": _is_int,
    "int | None": lambda v: v is None or _is_int(v),
    "float | None": lambda v: (
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
    ),
    "dict[str, Any] | None": lambda v: v is None or isinstance(v, dict),
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "dict[str, str]": lambda v: (
        isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())
    ),
}


def _checked(cls: type, data: dict[str, Any], where: str) -> dict[str, Any]:
    """The known fields of ``data``, each of the type its dataclass field declares."""
    fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
    out = _known(cls, data)
    for name, value in out.items():
        check = _TYPE_CHECKS.get(str(fields[name].type))
        if check is not None and not check(value):
            raise ValueError(f"field '{where}{name}' has the wrong type ({type(value).__name__})")
    return out


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """Temp file + fsync + rename; raises OSError (ENOSPC...) leaving the old file intact."""
    payload = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".run-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, new_file_mode())  # mkstemp's 0600 is not what the user's umask says
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_record(run_dir: Path, record: RunRecord) -> None:
    atomic_write_json(run_dir / RUN_FILE, record.to_json())


def read_record(run_dir: str | os.PathLike[str]) -> RunRecord:
    """Load run.json; a WantuiError naming the file when it is missing or broken."""
    run_dir = Path(run_dir)
    path = run_dir / RUN_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise WantuiError("not a run folder (no run.json)", path=path) from None
    except IsADirectoryError:
        raise WantuiError("is a directory, not a run file", path=path) from None
    except OSError as exc:
        raise WantuiError(f"cannot read: {exc.strerror}", path=path) from None
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return RunRecord.from_json(data, run_dir)
    except (ValueError, TypeError) as exc:
        raise WantuiError(f"broken run file: {exc}", path=path) from None
    except RecursionError:
        raise WantuiError("broken run file: JSON nested too deeply", path=path) from None


def pid_alive(pid: int | None) -> bool:
    """True while a process exists and is not a zombie."""
    if not pid or pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - no os.kill(pid, 0) semantics there
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie still answers kill(0); /proc tells the truth on Linux
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def runner_alive(record: RunRecord) -> bool:
    """The recorded runner is still this run's runner: same boot, same start time; for
    an older run.json without start times, its pid is alive and the project lock held."""
    from wantui.core.supervisor.procs import is_same_process

    if not is_same_process(record.runner_pid, record.runner_start_ticks, record.boot_id):
        return False
    return record.runner_start_ticks is not None or not lock_free(record)


def lock_free(record: RunRecord) -> bool:
    """The project lock is free (no runner holds it); False when it cannot be told."""
    from wantui.core.supervisor.lock import is_locked

    if record.run_dir is None:
        return False
    try:
        return not is_locked(record.run_dir.parent)
    except (WantuiError, OSError):  # a read-only folder: cannot tell
        return False


def effective_status(record: RunRecord) -> str:
    """The recorded status, or ``lost`` when the runner died without finishing it: its
    pid is gone, belongs to another process (a reboot, a container restart: the boot id
    or the start time differs), or the project lock is free and the runner cannot be
    told apart from a process that reused its pid."""
    if record.status == "starting" and not record.runner_pid and record.run_dir is not None:
        # start_run holds the project lock until the runner has it: unlocked means dead
        from wantui.core.supervisor.lock import is_locked

        if not is_locked(record.run_dir.parent):
            with contextlib.suppress(WantuiError):
                again = read_record(record.run_dir)
                if again.status != "starting":
                    return effective_status(again)
            return "lost"
    if record.status in ACTIVE and record.runner_pid and not runner_alive(record):
        # the runner may have just written its final state: read once more
        if record.run_dir is not None:
            with contextlib.suppress(WantuiError):
                again = read_record(record.run_dir)
                if again.status not in ACTIVE:
                    return again.status
        return "lost"
    return record.status


def runs_dir_of(project_or_dir: Any) -> Path:
    """Accept a Project (its runs folder) or a path to a runs folder."""
    if hasattr(project_or_dir, "runs_path"):
        return Path(project_or_dir.runs_path())
    return Path(project_or_dir)


def list_runs(project_or_dir: Any, problems: list[str] | None = None) -> list[RunRecord]:
    """Every readable run, oldest first (run ids sort by time). Broken folders are skipped
    (their one-line errors go to ``problems`` when given)."""
    base = runs_dir_of(project_or_dir)
    if not base.is_dir():
        return []
    out = []
    for child in sorted(base.iterdir()):
        if child.name.startswith(".") or not (child / RUN_FILE).is_file():
            continue
        try:
            out.append(read_record(child))
        except WantuiError as exc:
            if problems is not None:
                problems.append(str(exc))
    return out


def latest_run(project_or_dir: Any) -> RunRecord | None:
    runs = list_runs(project_or_dir)
    return runs[-1] if runs else None


def find_run(project_or_dir: Any, run_id: str | None) -> RunRecord:
    """A run by id (or unique prefix), or the latest; WantuiError when there is none."""
    base = runs_dir_of(project_or_dir)
    runs = list_runs(base)
    if not runs:
        raise WantuiError("no runs yet in this project (start one with `wantui run`)", path=base)
    if run_id is None:
        return runs[-1]
    exact = [r for r in runs if r.run_id == run_id]
    if exact:
        return exact[0]
    prefix = [r for r in runs if r.run_id.startswith(run_id)]
    if len(prefix) == 1:
        return prefix[0]
    from wantui.core.similar import suggestion

    hint = suggestion(run_id, [r.run_id for r in runs]) if not prefix else ""
    what = "ambiguous run id" if prefix else "no such run"
    raise WantuiError(f"{what}: {run_id}{hint}", path=base)
