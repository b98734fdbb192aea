"""Run ``probe_script.py`` with the pipeline's interpreter, safely.

The child runs in its own session so a hang (a CUDA driver that never answers, an import
stuck on a network filesystem) is ended by killing its whole process group. Every way
the interpreter can fail becomes one clear Finding instead of an exception.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wantui.core.finding import Finding
from wantui.core.findings import emit

if TYPE_CHECKING:
    from wantui.core.project import Project

PROBE_SCRIPT = Path(__file__).with_name("probe_script.py")
MARKER = "WANTUI_PROBE_JSON "


@dataclass
class ProbeResult:
    """What the probe said (``data``; empty when it failed) and the findings drawn from it."""

    python: str
    data: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    ok: bool = False
    elapsed: float = 0.0
    returncode: int | None = None
    stderr_tail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "ok": self.ok,
            "elapsed_s": round(self.elapsed, 3),
            "returncode": self.returncode,
            "data": self.data,
        }


def _failure(rule: str, **text: str) -> Finding:
    """The probe could not ask the pipeline's Python: one finding, the wording declared."""
    return emit(rule, origin="probe", text=text)


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


# The probe's report is one line of some tens of kB; a child that prints more than this
# is not the probe (a wrapper stuck in a loop) and is stopped instead of filling memory.
MAX_STDOUT = 32_000_000
STDERR_TAIL = 64_000
# after the group is killed, how long to wait for the pipes to close: a grandchild that
# left the group (setsid) may hold them open for ever
DRAIN_S = 1.0


ANSWERED_GRACE_S = 1.0


def _has_report_line(out: bytearray, new: int) -> bool:
    """A complete marker line is in ``out`` (the marker at a line start, then a newline).
    Only the last ``new`` bytes (and what a line there may have started with) are searched:
    a flood must not cost a scan of the whole buffer per chunk."""
    marker = MARKER.encode()
    # the line the new bytes extend, looked back at over 1 MB at most (a report is ~50 kB;
    # a longer one just waits for the process to exit)
    floor = max(0, len(out) - new - 1_000_000)
    start = max(floor, out.rfind(b"\n", floor, max(0, len(out) - new)) + 1)
    i = out.rfind(marker, start)
    while i > 0 and out[i - 1 : i] != b"\n":
        i = out.rfind(marker, start, i)
    return i >= 0 and out.find(b"\n", i) >= 0


def _collect(proc: subprocess.Popen[bytes], timeout: float) -> tuple[bytes, bytes, str | None]:
    """Read the child's stdout and stderr until it exits, within ``timeout`` and bounded in
    memory: (stdout, stderr tail, None) or, after killing its group, (..., "timeout"|"flood")."""
    assert proc.stdout is not None and proc.stderr is not None
    out = bytearray()
    err = bytearray()
    why: str | None = None
    deadline = time.monotonic() + timeout
    if os.name != "posix":  # no select() on pipes: fall back to communicate (unbounded)
        try:
            o, e = proc.communicate(timeout=timeout)
            return o, e[-STDERR_TAIL:], None
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                o, e = proc.communicate(timeout=DRAIN_S + 4)
            except subprocess.TimeoutExpired:
                o, e = b"", b""
            return o, e[-STDERR_TAIL:], "timeout"
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    open_pipes = 2
    answered = False
    killed_at: float | None = None
    try:
        while open_pipes:
            now = time.monotonic()
            if killed_at is None and now >= deadline and why is None:
                why = "lingered" if answered else "timeout"
            if why is not None and killed_at is None:
                _kill_group(proc)
                killed_at = now
            if killed_at is not None and now - killed_at > DRAIN_S:
                break  # a process outside the group holds the pipes: stop listening
            wait = (killed_at + DRAIN_S if killed_at is not None else deadline) - now
            for key, _ in sel.select(max(0.0, wait)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_pipes -= 1
                    continue
                buf = key.data
                buf += chunk
                if buf is err and len(err) > 2 * STDERR_TAIL:
                    del err[:-STDERR_TAIL]
                elif buf is out and len(out) > MAX_STDOUT and why is None:
                    why = "flood"
                    del out[:]
                elif buf is out and why == "flood":
                    del out[:]  # stopped for flooding: what it still prints does not matter
                elif buf is out and not answered and _has_report_line(out, len(chunk)):
                    # the report is in: a wrapper lingering after it (a slow teardown,
                    # `conda run`) gets a short grace, not the whole timeout
                    answered = True
                    deadline = min(deadline, time.monotonic() + ANSWERED_GRACE_S)
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    if why is None:
        remaining = deadline - time.monotonic()
        try:
            proc.wait(timeout=max(0.1, remaining))
        except subprocess.TimeoutExpired:
            # it closed its pipes but lives on: that is a hang too
            why = "timeout"
    if why is not None:
        _kill_group(proc)
        try:
            proc.wait(timeout=DRAIN_S + 4)
        except subprocess.TimeoutExpired:
            pass
    return bytes(out), bytes(err[-STDERR_TAIL:]), why


def _report(out: bytes) -> dict[str, Any] | None:
    """The probe's JSON report from its stdout (the last marker line), or None."""
    text = out.decode("utf-8", "replace")
    line = next((ln for ln in reversed(text.splitlines()) if ln.startswith(MARKER)), None)
    if line is None:
        return None
    try:
        data = json.loads(line[len(MARKER) :])
    except (ValueError, RecursionError):  # bad JSON, or an int of 5000 digits
        return None
    return _sanitize(data) if isinstance(data, dict) else None


def _sanitize(data: dict[str, Any]) -> dict[str, Any]:
    """Give the report's sections the types every reader assumes (a wrapper may print a
    marker line of its own): a section of the wrong type becomes a failed section."""
    from wantui.core.probe.checks import SECTIONS

    for key in SECTIONS:
        if key not in data:
            continue
        want = list if key == "disk" else dict
        if not isinstance(data[key], want):
            data[key] = [] if want is list else {"probe_error": "unexpected type in the report"}
    if "disk" in data:
        data["disk"] = [e for e in data["disk"] if isinstance(e, dict)]
    torch = data.get("torch")
    if isinstance(torch, dict) and "gpus" in torch:
        gpus = torch["gpus"]
        torch["gpus"] = [g for g in gpus if isinstance(g, dict)] if isinstance(gpus, list) else []
    att = data.get("attention")
    if isinstance(att, dict):
        data["attention"] = {k: v for k, v in att.items() if isinstance(v, dict)}
    return data


def findings_from(data: dict[str, Any], python: str, **kwargs: Any) -> tuple[list[Finding], bool]:
    """probe_findings, or one probe-garbage finding when the report's shape breaks a check
    (never an exception out of doctor): (findings, ok)."""
    from wantui.core.probe.checks import probe_findings

    try:
        return probe_findings(data, **kwargs), True
    except Exception as exc:  # a field of an unexpected type deep in a hand-made report
        return [
            _failure(
                "probe-garbage",
                python=python,
                what=f"a report wantui cannot read ({type(exc).__name__}: {exc})",
                why="a wrapper that prints its own WANTUI_PROBE_JSON line?",
            )
        ], False


def resolve_python(python: str) -> str | None:
    """An interpreter path from a name ("python3") or a path; None when there is none."""
    if os.sep in python or (os.altsep and os.altsep in python):
        # absolute, or Popen would look a relative "./venv/bin/python" up on PATH (and
        # str(Path("./x")) drops the "./"); abspath, not realpath: a venv's python is a
        # symlink whose location is what makes it that venv
        p = os.path.abspath(os.path.expanduser(python))
        return p if os.path.lexists(p) else None
    return shutil.which(python)


def run_probe(
    python: str | None = None,
    *,
    timeout: float = 10,
    cwd: str | os.PathLike[str] | None = None,
    checkout: str | os.PathLike[str] | None = None,
    paths: Sequence[str | os.PathLike[str]] = (),
    fast: bool = False,
    project: Project | None = None,
    env: dict[str, str] | None = None,
) -> ProbeResult:
    """Run the probe with ``python`` (default: this interpreter) and return its result."""
    python = python or sys.executable
    # a nan or infinite timeout would make the wait below spin or never end
    timeout = 10.0 if timeout != timeout else min(max(float(timeout), 0.5), 3600.0)
    res = ProbeResult(python=python)
    exe = resolve_python(python)
    if exe is None:
        res.findings.append(
            _failure(
                "probe-python-missing",
                python=python,
                problem="does not exist",
                detail=": no such interpreter. The pipeline steps would fail to start.",
                missing="yes",
            )
        )
        return res
    if not os.path.exists(exe):
        # a venv's bin/python is a symlink to the base interpreter: a removed or upgraded
        # base Python (pyenv, conda, apt) leaves it dangling
        res.findings.append(
            _failure(
                "probe-python-missing",
                python=exe,
                problem="is a broken symlink",
                detail=f" points to {os.readlink(exe) if os.path.islink(exe) else '?'}, which no"
                " longer exists (the Python the venv was made from was removed or upgraded).",
                dangling="yes",
            )
        )
        return res
    if os.path.isdir(exe) or not os.access(exe, os.X_OK):
        res.findings.append(
            _failure(
                "probe-python-missing",
                python=exe,
                problem="is not an executable",
                detail=f": {'is a directory' if os.path.isdir(exe) else 'not executable'}.",
                not_executable="yes",
            )
        )
        return res
    # the script reports by its budget whatever it is doing then (a watchdog); leave room
    # for the interpreter's own start-up on a loaded machine
    budget = max(0.5, min(timeout - 2.5, timeout * 0.75))
    argv = [exe, str(PROBE_SCRIPT), "--budget", f"{budget:.2f}"]
    if checkout:
        argv += ["--checkout", str(checkout)]
    for p in paths:
        argv += ["--path", str(p)]
    if fast:
        argv.append("--fast")
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONIOENCODING", "utf-8")
    # PYTHONPATH is kept: the pipeline's steps inherit it too (some run musubi from src/
    # that way), so the probe must see what they will see
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(cwd) if cwd else None,
            env=child_env,
            start_new_session=(os.name == "posix"),
        )
    except OSError as exc:
        res.findings.append(
            _failure(
                "probe-python-broken",
                python=exe,
                problem="cannot be started",
                detail=f": {exc.strerror or exc} (a broken venv, or a file that is not an"
                " interpreter).",
                start_error="yes",
            )
        )
        return res
    try:
        out, err, why = _collect(proc, timeout)
    except BaseException:
        # Ctrl-C reaches only wantui: the child has its own session, and a hung one would
        # outlive us (an orphan holding the GPU) unless its group is ended here
        _kill_group(proc)
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        raise
    if why in ("timeout", "lingered") and _report(out) is not None:
        why = None  # it answered, then lingered on its way out: the answer counts
    elif why == "lingered":
        why = None  # a marker line that is not a report: judged below as garbage
    if why is not None:
        res.elapsed = time.monotonic() - t0
        res.returncode = proc.returncode
        res.stderr_tail = _tail(err.decode("utf-8", "replace"))
        if why == "flood":
            res.findings.append(
                _failure(
                    "probe-garbage",
                    python=exe,
                    what=f"more than {MAX_STDOUT // 1_000_000} MB instead of the probe's one"
                    " JSON line, and was stopped",
                    why="a wrapper script that prints endlessly, or not a Python interpreter",
                )
            )
            return res
        res.findings.append(_failure("probe-timeout", python=exe, timeout=f"{timeout:g}"))
        return res
    res.elapsed = time.monotonic() - t0
    res.returncode = proc.returncode
    text = out.decode("utf-8", "replace")
    errtext = err.decode("utf-8", "replace")
    res.stderr_tail = _tail(errtext)
    data = _report(out)
    if not isinstance(data, dict):
        if proc.returncode != 0:
            last = (
                res.stderr_tail.splitlines()[-1]
                if res.stderr_tail
                else f"exit status {proc.returncode}"
            )
            res.findings.append(
                _failure(
                    "probe-python-broken",
                    python=exe,
                    problem="fails to run a script",
                    detail=f" exited with status {proc.returncode}: {last}",
                )
            )
        else:
            sample = (text.strip().splitlines() or [""])[-1][:120]
            res.findings.append(
                _failure(
                    "probe-garbage",
                    python=exe,
                    what=f"{sample!r} instead of the probe's JSON",
                    why="a wrapper script, or not a Python interpreter",
                )
            )
        return res
    res.findings, res.ok = findings_from(
        data, exe, project=project, checkout=str(checkout) if checkout else None
    )
    res.data = data if res.ok else {}
    return res
