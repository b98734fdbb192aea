"""Which GPUs a torch build has kernels for (gpu-arch-unsupported, before launch)."""

from __future__ import annotations

import pytest

from wantui.core.probe import probe_findings
from wantui.core.probe.check_gpu import arch_supported

CU124 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
CU128 = CU124 + ["sm_100", "sm_120", "compute_120"]


@pytest.mark.parametrize(
    "cap, arch_list, expected",
    [
        ("9.0", CU124, True),  # H100
        ("8.9", CU124, True),  # RTX 4090: sm_86 cubins run on 8.9
        ("12.0", CU124, False),  # RTX 5090 under a cu124 wheel
        ("12.0", CU128, True),
        ("12.0", ["sm_80", "compute_90"], True),  # PTX is compiled for newer GPUs
        ("9.0", ["sm_90a"], True),
        ("9.1", ["sm_90a"], False),  # arch-specific cubins run on that exact GPU only
        ("7.0", ["sm_80"], False),  # nothing runs on an older GPU
        ("x.y", CU124, None),
    ],
)
def test_arch_supported(cap: str, arch_list: list[str], expected: bool | None) -> None:
    assert arch_supported(cap, arch_list) is expected


def _report(cap: str, arch_list: list[str] | None) -> dict:
    torch = {
        "installed": True,
        "version": "2.5.1+cu124",
        "cuda_build": "12.4",
        "cuda_available": True,
        "gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 5090", "capability": cap}],
    }
    if arch_list is not None:
        torch["arch_list"] = arch_list
    return {"torch": torch, "python": {"executable": "/venv/bin/python"}}


def test_rtx50_under_cu124_is_predicted_with_the_cu128_fix() -> None:
    found = [
        f for f in probe_findings(_report("12.0", CU124)) if f.catalog == "gpu-arch-unsupported"
    ]
    assert len(found) == 1
    assert "sm_120" in found[0].title and "cu128" in found[0].advice[0]


def test_no_finding_when_supported_or_unknown() -> None:
    for report in (_report("12.0", CU128), _report("12.0", None), _report("9.0", CU124)):
        assert not [f for f in probe_findings(report) if f.catalog == "gpu-arch-unsupported"]
