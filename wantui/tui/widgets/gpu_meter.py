"""GPU utilisation and VRAM from ``nvidia-smi``, polled off the UI thread.

The query is one line per GPU in CSV with no units, the stable interface nvidia-smi
documents for scripts."""

from __future__ import annotations

import shutil
import subprocess

QUERY = ["--query-gpu=utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"]


def read_gpus(timeout: float = 2.0) -> str | None:
    """``GPU0 97% 61.2/79.6 GiB`` per GPU, or None when nvidia-smi is absent or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, *QUERY], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    parts = []
    for i, row in enumerate(out.stdout.strip().splitlines()):
        try:
            util, used, total = (float(x) for x in row.split(","))
        except ValueError:
            continue
        parts.append(f"GPU{i} {util:.0f}% {used / 1024:.1f}/{total / 1024:.1f} GiB")
    return "  ".join(parts) or None
