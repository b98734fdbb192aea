"""The last probe report of a project, kept so a run can be checked without probing again.

``wantui doctor`` and the guided setup save the report in ``<project>/.wantui/probe.json``
with a stamp of the interpreter: its path, the modification time of the file it resolves
to and of its ``site-packages`` folders (a pip install or uninstall changes them), and the
checkout. A report is used only while the stamp still matches and it is younger than
:data:`MAX_AGE_S`; anything else (another interpreter, a reinstall, a hand-edited or
garbage file) means "no cached probe". The file is data from the project folder: it is
size-bounded, parsed as JSON only, and its report goes through the same sanitising and
checks as a fresh one.
"""

from __future__ import annotations

import glob
import json
import os
import time
from pathlib import Path
from typing import Any

from wantui.core.errors import WantuiError
from wantui.core.fsutil import read_regular_file, write_state_file
from wantui.core.probe.runner import ProbeResult, _sanitize, findings_from, resolve_python

CACHE_FILE = Path(".wantui") / "probe.json"
MAX_AGE_S = 24 * 3600.0
MAX_BYTES = 4_000_000


def _stamp(python: str, checkout: str | None, prefix: str | None) -> dict[str, Any] | None:
    exe = resolve_python(python)
    if exe is None:
        return None
    try:
        real = os.path.realpath(exe)
        mtimes = {real: os.stat(real).st_mtime_ns}
        if prefix:
            pattern = ("lib", "python*", "site-packages")
            for d in glob.glob(os.path.join(glob.escape(prefix), *pattern)) + [
                os.path.join(prefix, "Lib", "site-packages")
            ]:
                if os.path.isdir(d):
                    mtimes[d] = os.stat(d).st_mtime_ns
    except OSError:
        return None
    return {"python": exe, "checkout": checkout, "mtimes": mtimes}


def save_probe(root: Path, result: ProbeResult, checkout: str | None = None) -> Path | None:
    """Keep ``result`` for later runs of the project at ``root``; None when it is not
    worth keeping (the probe failed) or cannot be written (never an error: a cache)."""
    if not result.ok or not result.data:
        return None
    prefix = (result.data.get("python") or {}).get("prefix")
    stamp = _stamp(result.python, checkout, prefix if isinstance(prefix, str) else None)
    if stamp is None:
        return None
    doc = {"saved": time.time(), "stamp": stamp, "prefix": prefix, "data": result.data}
    try:
        # a state file of an untrusted folder: never through a link (`.wantui` or the file)
        return write_state_file(root, CACHE_FILE.name, json.dumps(doc).encode("utf-8"))
    except (OSError, WantuiError):
        return None


def load_probe(
    root: Path,
    python: str,
    *,
    checkout: str | None = None,
    project: Any = None,
    now: float | None = None,
) -> tuple[ProbeResult | None, str]:
    """(the cached probe, or None; one line saying which and why)."""
    path = root / CACHE_FILE
    if not path.exists():
        return None, "the pipeline's Python is not probed yet (`wantui doctor` probes it)"
    try:
        doc = json.loads(
            read_regular_file(path, limit=MAX_BYTES, what="probe cache", nofollow=True)
        )
    except (OSError, WantuiError, ValueError, RecursionError):
        return None, f"{path} is unreadable; run `wantui doctor` to probe again"
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        return None, f"{path} is not a probe report; run `wantui doctor` to probe again"
    saved = doc.get("saved")
    age = (time.time() if now is None else now) - (saved if isinstance(saved, (int, float)) else 0)
    prefix = doc.get("prefix")
    stamp = _stamp(python, checkout, prefix if isinstance(prefix, str) else None)
    if stamp is None or doc.get("stamp") != json.loads(json.dumps(stamp)):
        return None, "the last probe was of another interpreter or install; run `wantui doctor`"
    if not 0 <= age <= MAX_AGE_S:
        return None, "the last probe is over a day old; run `wantui doctor` to probe again"
    data = _sanitize(doc["data"])
    res = ProbeResult(python=python, data=data, elapsed=0.0)
    res.findings, res.ok = findings_from(data, python, project=project, checkout=checkout)
    if not res.ok:
        return None, f"{path} is not a probe report; run `wantui doctor` to probe again"
    return res, f"the pipeline's Python as probed {_ago(age)} ago ({stamp['python']})"


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
