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

from wantui.core.finding import Finding, Severity

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


def _failure(rule: str, catalog: str, title: str, message: str, advice: list[str]) -> Finding:
    return Finding(
        rule=rule,
        catalog=catalog,
        severity=Severity.ERROR,
        title=title,
        message=message,
        advice=advice,
        steps=("any",),
        priority=90,
        origin="probe",
    )


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


def resolve_python(python: str) -> str | None:
    """An interpreter path from a name ("python3") or a path; None when there is none."""
    if os.sep in python or (os.altsep and os.altsep in python):
        p = Path(os.path.expanduser(python))
        return str(p) if p.exists() else None
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
    res = ProbeResult(python=python)
    exe = resolve_python(python)
    if exe is None:
        res.findings.append(
            _failure(
                "probe-python-missing",
                "script-not-found",
                "The pipeline's Python does not exist",
                f"{python}: no such interpreter. The pipeline steps would fail to start.",
                [
                    "Set project.python in wantui.toml to the musubi-tuner venv's python"
                    " (e.g. musubi-tuner/.venv/bin/python)."
                ],
            )
        )
        return res
    if os.path.isdir(exe) or not os.access(exe, os.X_OK):
        res.findings.append(
            _failure(
                "probe-python-missing",
                "script-not-found",
                "The pipeline's Python is not an executable",
                f"{exe}: {'is a directory' if os.path.isdir(exe) else 'not executable'}.",
                ["Point project.python at the interpreter file itself (…/bin/python)."],
            )
        )
        return res
    argv = [exe, str(PROBE_SCRIPT), "--budget", str(max(1.0, timeout - 2))]
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
                "module-not-installed",
                "The pipeline's Python cannot be started",
                f"{exe}: {exc.strerror or exc} (a broken venv, or a file that is not an interpreter).",
                ["Recreate the musubi-tuner venv, or fix project.python in wantui.toml."],
            )
        )
        return res
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        res.elapsed = time.monotonic() - t0
        res.returncode = proc.returncode
        res.stderr_tail = _tail(err.decode("utf-8", "replace"))
        f = _failure(
            "probe-timeout",
            "module-not-installed",
            f"The pipeline's Python did not answer within {timeout:g} s",
            f"{exe} was stopped after {timeout:g} s. Importing torch or a CUDA library hangs,"
            " or the machine is very busy; the pipeline would hang the same way.",
            [
                "Run `python -c 'import torch; print(torch.cuda.is_available())'` with that"
                " interpreter to see where it stops.",
                "Run `wantui doctor --probe-timeout 60` if the machine is only slow.",
            ],
        )
        f.severity = Severity.WARNING
        res.findings.append(f)
        return res
    res.elapsed = time.monotonic() - t0
    res.returncode = proc.returncode
    text = out.decode("utf-8", "replace")
    errtext = err.decode("utf-8", "replace")
    res.stderr_tail = _tail(errtext)
    line = next((ln for ln in reversed(text.splitlines()) if ln.startswith(MARKER)), None)
    data: Any = None
    if line is not None:
        try:
            data = json.loads(line[len(MARKER) :])
        except json.JSONDecodeError:
            data = None
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
                    "module-not-installed",
                    "The pipeline's Python fails to run a script",
                    f"{exe} exited with status {proc.returncode}: {last}",
                    [
                        f"Check that this is a working Python 3 (`{exe} --version`);"
                        " recreate the musubi-tuner venv if it is broken."
                    ],
                )
            )
        else:
            sample = (text.strip().splitlines() or [""])[-1][:120]
            res.findings.append(
                _failure(
                    "probe-garbage",
                    "module-not-installed",
                    "The pipeline's Python answered with something that is not the probe's report",
                    f"{exe} printed {sample!r} instead of the probe's JSON (a wrapper script,"
                    " or not a Python interpreter).",
                    ["Point project.python at the venv's real interpreter, not a wrapper."],
                )
            )
        return res
    res.data = data
    res.ok = True
    from wantui.core.probe.checks import probe_findings

    res.findings = probe_findings(
        data, project=project, checkout=str(checkout) if checkout else None
    )
    return res
