"""Small process helpers shared by the runner and stop_run (kept apart so that
``python -m wantui.core.supervisor.runner`` is not imported by the package itself)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

STOP_FILE = "stop"
# space the runner keeps aside while steps run, to record their end on a full disk
RESERVE_FILE = ".reserve"
RESERVE_BYTES = 256 * 1024
# where start_run keeps the caller's PYTHONPATH ("" when it had none) for the steps
ORIG_PYTHONPATH = "WANTUI_ORIG_PYTHONPATH"
SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows has no SIGKILL
# free bytes under which a failed step is blamed on a full disk
LOW_DISK = 1 << 20
LEFTOVER_GRACE = 3.0
# a step's log is capped (a flooding step once filled a disk): past the cap its middle
# is cut, the first quarter and the last half kept. WANTUI_STEP_LOG_MAX: bytes, with an
# optional K/M/G suffix; 0 turns the cap off.
DEFAULT_STEP_LOG_MAX = 256 << 20
CUT_MARK = (
    "[wantui: {n} bytes of this log were cut here (log cap {cap} bytes, WANTUI_STEP_LOG_MAX)]"
)


def step_log_max(environ: dict[str, str] | None = None) -> int:
    raw = (os.environ if environ is None else environ).get("WANTUI_STEP_LOG_MAX", "").strip()
    if not raw:
        return DEFAULT_STEP_LOG_MAX
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(raw[-1:].upper(), 1)
    try:
        return max(0, int(float(raw.rstrip("kKmMgGiIbB") or "0") * mult))
    except ValueError:
        return DEFAULT_STEP_LOG_MAX


def cap_log(path: Path, cap: int) -> int:
    """Cut the middle of ``path`` when it is over ``cap`` bytes: keep its first quarter
    and its last half, with a line saying how much went. The step appends with O_APPEND,
    so it goes on writing at the new end; what it writes between the last copy and the
    truncation (microseconds) is lost. Copies in 1 MiB pieces: bounded memory. Returns
    the bytes cut (0 when under the cap or on any error)."""
    try:
        size = path.stat().st_size
        if cap <= 0 or size <= cap:
            return 0
        head, tail = cap // 4, cap // 2
        src = size - tail
        cut = src - head
        mark = ("\n" + CUT_MARK.format(n=cut, cap=cap) + "\n").encode()
        with open(path, "r+b") as fh:
            fh.seek(head)
            fh.write(mark)
            dst = head + len(mark)
            while True:  # forward copy: dst < src, never overwrites what is still to read
                fh.seek(src)
                block = fh.read(1 << 20)
                if not block:
                    break
                src += len(block)
                fh.seek(dst)
                fh.write(block)
                dst += len(block)
            fh.truncate(dst)
        return cut
    except OSError:
        return 0


def group_alive(pgid: int | None) -> bool:
    if not pgid or sys.platform == "win32":
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def disk_note(path: Path) -> str | None:
    """A message when the file system holding ``path`` is (nearly) full."""
    try:
        st = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    free = st.f_bavail * st.f_frsize
    if free < LOW_DISK:
        return f"the disk holding {path} is full ({free} bytes free): logs and checkpoints cannot be written"
    return None


# -- who is who: a PID alone is not an identity --------------------------------------
# After a reboot or a container restart (rented GPUs) the PIDs of an old run.json belong
# to other processes. A run records the boot id and each process's start time (field 22
# of /proc/PID/stat, clock ticks since boot); a PID whose start time differs, or any PID
# from another boot, is someone else's and is never signalled.

RUN_MARKER = "WANTUI_RUN_ID"  # set in every step's environment; inherited by its tree
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str | None:
    try:
        return _BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3 onwards)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # the name (field 2) may hold spaces and parentheses: split after the last ')'
    return raw.rsplit(b")", 1)[-1].decode("ascii", "replace").split()


def start_ticks(pid: int | None) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None (gone, not Linux)."""
    if not pid or pid <= 0:
        return None
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None  # field 22 = index 19 after field 2
    except (IndexError, ValueError):
        return None


def same_boot(recorded: str | None) -> bool:
    """False only when the record names a boot and this is another one."""
    now = boot_id()
    return not recorded or not now or recorded == now


def is_same_process(pid: int | None, ticks: int | None, boot: str | None) -> bool:
    """``pid`` exists, is not a zombie, and is the process recorded (same boot, same start
    time). With nothing recorded (an old run.json, no /proc) only liveness is checked."""
    from wantui.core.supervisor.rundir import pid_alive

    if not pid or not same_boot(boot) or not pid_alive(pid):
        return False
    if ticks is None:
        return True
    now = start_ticks(pid)
    return now is None or now == ticks


def _ppid_map() -> dict[int, int]:
    out: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields and len(fields) > 1 and fields[1].isdigit() and fields[0] != "Z":
                out[int(name)] = int(fields[1])
    return out


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # another user's process: not ours to stop anyway
        return False
    return marker in env.split(b"\0")


def process_tree(roots: list[int], run_id: str | None = None) -> set[int]:
    """Every live process below ``roots`` (walking /proc by parent pid), plus every
    process carrying this run's marker in its environment: a ``setsid`` grandchild whose
    parent died was reparented away from the tree, but it keeps its environment."""
    parents = _ppid_map()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [r for r in roots if r in parents]
    if run_id:
        marker = f"{RUN_MARKER}={run_id}".encode()
        me = os.getpid()
        todo += [p for p in parents if p != me and _has_marker(p, marker)]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def signal_tree(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def become_subreaper() -> None:
    """Orphans of the steps (a daemonised grandchild) are reparented to this process
    instead of init, so the runner still finds them below itself (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def step_processes(record: Any, step: Any) -> tuple[bool, set[int]]:
    """What of a step still runs, as far as it is provably that step: (whether its process
    group may be signalled, the other pids of its tree). Nothing from another boot; no
    group whose leader pid now belongs to another process; the tree of the runner only
    while it is still the recorded runner (orphans of the step are reparented to it)."""
    from wantui.core.supervisor.rundir import lock_free, pid_alive

    if sys.platform == "win32" or not same_boot(getattr(record, "boot_id", None)):
        return False, set()
    if step.start_ticks is None and lock_free(record):
        # an older run.json (no start times) whose runner is gone: its pids prove nothing
        return False, process_tree([], record.run_id) - {os.getpid()}
    leader_ok = is_same_process(step.pid, step.start_ticks, record.boot_id)
    group_ok = bool(step.pgid) and (leader_ok or not pid_alive(step.pid)) and group_alive(step.pgid)
    roots = [step.pid] if leader_ok else []
    from wantui.core.supervisor.rundir import runner_alive

    runner = record.runner_pid
    if runner_alive(record):
        # the runner is a subreaper: every orphan of the step is below it, no need to
        # read every process's environment for the run's marker
        tree = process_tree([*roots, runner]) - {runner, os.getpid()}
    else:
        tree = process_tree(roots, record.run_id) - {runner, os.getpid()}
    return group_ok, tree


def signal_step(record: Any, step: Any, sig: int) -> bool:
    """Send ``sig`` to what :func:`step_processes` finds; False when nothing was left."""
    group_ok, tree = step_processes(record, step)
    if group_ok:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(step.pgid, sig)
    signal_tree(tree, sig)
    return group_ok or bool(tree)
