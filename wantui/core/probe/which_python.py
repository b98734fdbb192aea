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
from wantui.core.findings import emit
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
    text: dict[str, str] = {
        "python": probed,
        "where": where,
        "project_file": "" if project_file is None else str(project_file),
    }
    if musubi_found:
        return emit(
            "probe-python-fallback",
            origin="probe",
            severity=Severity.INFO,
            captures={"python": probed},
            text={
                **text,
                "musubi_found": "yes",
                "pick": seen[0] if seen else probed,
                "whose": " (musubi-tuner is installed there)",
                "verdict": "; it has musubi-tuner, so it can run the steps.",
            },
        )
    looked = [
        "the checkout's .venv/venv" if checkout else None,
        "$VIRTUAL_ENV",
        "$CONDA_PREFIX",
    ]
    return emit(
        "probe-python-fallback",
        origin="probe",
        captures={"python": probed},
        text={
            **text,
            "seen": ", ".join(seen),
            "looked": "" if seen else ", ".join(x for x in looked if x),
            "pick": seen[0] if seen else "/path/to/musubi-tuner/.venv/bin/python",
            "whose": ", not the pipeline's",
            "verdict": ". What it says about torch, CUDA and musubi-tuner is about wantui's own"
            " interpreter, which the steps would also run with until one is set, and which is"
            " rarely the one musubi-tuner is installed in. Do not install torch here unless"
            " musubi-tuner runs from this environment.",
        },
    )
