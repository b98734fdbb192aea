"""The CPU shim that docs/gpu-proof.md tells lab users to put on PYTHONPATH is shipped and works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SHIM = Path(__file__).resolve().parent.parent / "scripts" / "cpu_shim"

CODE = "import torch; print(torch.cuda.is_available(), torch.cuda.current_device())"


def _run(pythonpath: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=120
    )


def test_docs_name_the_shipped_shim() -> None:
    doc = (SHIM.parent.parent / "docs" / "gpu-proof.md").read_text(encoding="utf-8")
    assert "scripts/cpu_shim" in doc
    assert (SHIM / "sitecustomize.py").is_file()


def test_shim_makes_current_device_answer_on_a_cpu_torch() -> None:
    pytest.importorskip("torch", reason="needs torch in this interpreter (the test extra)")
    bare = _run(None)
    if bare.returncode == 0 and bare.stdout.startswith("True"):
        pytest.skip("CUDA is available here: the shim does nothing by design")
    assert bare.returncode != 0  # what musubi's t5.py trips over at import time
    shimmed = _run(str(SHIM))
    assert shimmed.returncode == 0, shimmed.stderr
    assert shimmed.stdout.split() == ["False", "0"]
