"""One source of CUDA wheel advice, chosen by the GPU and driver the probe saw, used by
the probe's findings, doctor, the guided setup and agreeing with the rule texts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from wantui.core.probe.checks import probe_findings
from wantui.core.probe.wheels import BY_TAG, choose_wheel, wheel_for
from wantui.core.setup_defaults import install_help

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("caps", "driver", "tag", "update"),
    [
        (["12.0"], "570.86.15", "cu128", False),  # RTX 5090 on a current driver
        (["12.0"], "560.35.03", "cu128", True),  # RTX 50 on an old driver: update first
        (["8.6"], "535.104.05", "cu124", False),  # RTX 3090 on a 535 driver: no cu128
        (["8.9"], "580.65.06", "cu128", False),
        (["6.1"], "580.65.06", "cu124", False),  # GTX 1080: CUDA 12.8+ builds start at sm_75
        (["7.0", "9.0"], "550.54.15", "cu124", False),
        (["8.0"], "470.82.01", "cu124", True),  # too old for any CUDA 12 wheel
        ([], None, "cu128", False),  # nothing seen: the default, with what it needs
    ],
)
def test_the_wheel_follows_gpu_and_driver(caps, driver, tag, update) -> None:  # noqa: ANN001
    w = choose_wheel(caps, driver)
    assert w.tag == tag and bool(w.driver_update) == update, w
    assert w.index_url.endswith("/" + tag)
    if driver is None:
        assert "570.26" in w.why  # says which driver cu128 needs


def test_torchs_driver_version_and_windows_thresholds() -> None:
    assert choose_wheel(["8.6"], driver_cuda=(12, 2)).tag == "cu124"
    assert choose_wheel(["8.6"], driver_cuda=(12, 8)).tag == "cu128"
    # 570.26 is enough on Linux, not on Windows (570.65)
    assert choose_wheel(["8.6"], "570.30").tag == "cu128"
    assert choose_wheel(["8.6"], "570.30", windows=True).tag == "cu124"


def _report(torch: dict, smi: dict | None = None) -> dict:
    return {
        "python": {"executable": "/venv/bin/python"},
        "torch": torch,
        "nvidia_smi": smi or {},
        "platform": {"windows": False},
    }


def test_probe_findings_give_the_wheel_for_the_gpu_and_driver_seen() -> None:
    # torch missing: only nvidia-smi saw the GPU (an RTX 3090 with a 535 driver)
    smi = {"found": True, "gpus": ["NVIDIA GeForce RTX 3090, 24576, 10, 535.104.05"],
           "capabilities": ["8.6"]}  # fmt: skip
    found = probe_findings(_report({"installed": False, "error": "No module named 'torch'"}, smi))
    [f] = [f for f in found if f.rule == "probe-torch-missing"]
    assert any("whl/cu124" in a for a in f.advice) and not any("cu128" in a for a in f.advice)
    # an RTX 5090 under a cu124 build: cu128, and the driver line when it is too old
    torch = {"installed": True, "version": "2.5.1+cu124", "cuda_build": "12.4",
             "cuda_available": True, "arch_list": ["sm_80", "sm_86", "sm_90"],
             "gpus": [{"name": "NVIDIA GeForce RTX 5090", "capability": "12.0"}],
             "driver_cuda": 12060}  # fmt: skip
    [f] = [f for f in probe_findings(_report(torch)) if f.rule == "probe-gpu-arch"]
    assert "whl/cu128" in f.advice[1] and f.advice[0].startswith("Update the NVIDIA driver")
    assert wheel_for(_report(torch)).tag == "cu128"


def test_setup_install_help_and_doctor_use_the_same_advice() -> None:
    from wantui.cli.doctor import probe_summary

    w = choose_wheel(["8.6"], "535.104.05")
    assert "--index-url https://download.pytorch.org/whl/cu124" in install_help(w)
    assert "whl/cu128" in install_help()  # no GPU seen: the default
    smi = {"gpus": ["NVIDIA GeForce RTX 3090, 24576, 10, 535.104.05"], "capabilities": ["8.6"]}
    report = _report({"installed": False, "error": "No module named 'torch'"}, smi)
    lines = "\n".join(probe_summary(report))
    assert "wheel    https://download.pytorch.org/whl/cu124" in lines


def test_rule_texts_agree_with_the_wheel_table() -> None:
    rtx50 = choose_wheel(["12.0"]).tag
    for path in sorted((REPO / "rules").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"download\.pytorch\.org/whl/(cu\d+)", text):
            assert tag in BY_TAG, (path.name, tag)  # one of musubi-tuner's extras
    rule = yaml.safe_load((REPO / "rules" / "gpu-arch-unsupported.yaml").read_text())
    assert f"whl/{rtx50}" in rule["advice"][0]
    need = ".".join(map(str, BY_TAG[rtx50].driver_linux))
    assert need in rule["message"]
