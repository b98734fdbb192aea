"""Which interpreter the probe asks, and why: ``--python``, else ``[project] python``, else
wantui's own (the fallback, rarely the one that runs musubi-tuner).

When the fallback is used, one finding says so before the probe's own findings (whose
"install torch into this Python" would otherwise send the user to wantui's venv), names
the likely right interpreters (the checkout's ``.venv``/``venv``, an active venv or conda
env) and how to point at one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wantui.core.finding import Finding, Severity
from wantui.core.findings import make_finding
from wantui.core.setup_defaults.musubi_checkout import find_interpreters

FALLBACK = "fallback"


def choose_python(
    given: str | None, project_python: str | None, project_path: str | None = None
) -> tuple[str, str]:
    """(the interpreter to probe, where it came from: "--python", "project" or "fallback")."""
    if given:
        return given, "--python"
    if project_python:
        return project_path or project_python, "project"
    return sys.executable, FALLBACK


def fallback_finding(
    probed: str,
    *,
    checkout: Path | None,
    project_file: Path | None,
    musubi_found: bool | None = None,
    env: dict[str, str] | None = None,
) -> Finding:
    """The probe asked wantui's own interpreter: say so, and where the right one may be.
    An error (ranked first) unless the probe found musubi-tuner there (wantui installed
    into the pipeline's venv: then it is the right one, and only worth pinning)."""
    env = dict(os.environ) if env is None else env
    me = os.path.realpath(probed)
    seen = [c for c in find_interpreters(checkout, env, conda=True) if os.path.realpath(c) != me]
    where = (
        f"no `python` in [project] of {project_file}"
        if project_file is not None
        else "no wantui.toml here"
    )
    advice = []
    if seen:
        advice.append(f"Likely the pipeline's Python: {', '.join(seen)}.")
    else:
        looked = [
            "the checkout's .venv/venv" if checkout else None,
            "$VIRTUAL_ENV",
            "$CONDA_PREFIX",
        ]
        advice.append(
            f"No other interpreter was found ({', '.join(x for x in looked if x)}): use the one"
            " you run musubi-tuner with (`which python` in its activated venv)."
        )
    pick = (
        seen[0] if seen else (probed if musubi_found else "/path/to/musubi-tuner/.venv/bin/python")
    )
    advice.append(f"Probe it: `wantui doctor --python {pick}`.")
    if project_file is not None:
        advice.append(f'Keep it: add `python = "{pick}"` to [project] in {project_file}.')
    if musubi_found:
        return make_finding(
            "probe-python-fallback",
            "module-not-installed",
            Severity.INFO,
            "The probe asked wantui's own Python (musubi-tuner is installed there)",
            f"{probed} was probed because no pipeline Python is configured ({where}, no"
            " --python); it has musubi-tuner, so it can run the steps.",
            origin="probe",
            advice=advice[-1:] if project_file is not None else [],
            captures={"python": probed},
            priority=99,
        )
    return make_finding(
        "probe-python-fallback",
        "module-not-installed",
        Severity.ERROR,
        "The probe asked wantui's own Python, not the pipeline's",
        f"{probed} was probed because no pipeline Python is configured ({where}, no --python)."
        " What it says about torch, CUDA and musubi-tuner is about wantui's own interpreter,"
        " which the steps would also run with until one is set, and which is rarely the one"
        " musubi-tuner is installed in. Do not install torch here unless musubi-tuner runs"
        " from this environment.",
        origin="probe",
        advice=advice,
        captures={"python": probed},
        steps=("any",),
        priority=99,  # first: it frames every probe finding after it
    )
