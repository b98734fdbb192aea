"""The environment probe: ask the pipeline's own Python what it can do.

``probe_script.py`` runs in the pipeline's interpreter as a subprocess (never imported
here); :func:`run_probe` starts it, bounds it in time and turns its JSON into
:class:`ProbeResult` ``.data`` and ``.findings``.
"""

from __future__ import annotations

from wantui.core.probe.checks import probe_findings
from wantui.core.probe.runner import PROBE_SCRIPT, ProbeResult, run_probe

__all__ = ["PROBE_SCRIPT", "ProbeResult", "probe_findings", "run_probe"]
