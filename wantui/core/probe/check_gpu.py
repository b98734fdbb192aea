"""Probe checks of torch, CUDA and the attention backends the flags ask for."""

from __future__ import annotations

import re

from wantui.core.finding import Finding, Severity
from wantui.core.fixactions import FixAction
from wantui.core.probe.context import (
    ATTENTION,
    ProbeContext,
    capability,
    probe_finding,
)
from wantui.core.probe.wheels import wheel_for


def torch_findings(c: ProbeContext) -> list[Finding]:
    """torch importable, with CUDA, a GPU it supports and a working bf16."""
    data = c.data
    windows = c.windows
    torch = c.torch
    pip = c.pip
    unknown = c.unknown
    out: list[Finding] = []
    if "torch" in unknown:
        pass
    elif torch.get("timed_out"):
        # the watchdog reported while `import torch` still ran: slow or hung, not missing
        out.append(
            probe_finding(
                "probe-torch-slow",
                "module-not-installed",
                Severity.WARNING,
                "import torch did not finish within the probe's time budget",
                f"The pipeline's Python was still importing torch after {data.get('elapsed_s')} s"
                " (a hung CUDA driver, a network filesystem, or a very busy machine); the"
                " pipeline's steps would stall the same way. GPU checks were not made.",
                advice=[
                    "Run `wantui doctor --probe-timeout 60` if the machine is only slow.",
                    "Time `python -c 'import torch'` with that interpreter.",
                ],
                priority=70,
            )
        )
    elif not torch.get("installed") or torch.get("error"):
        err = torch.get("error") or "not installed"
        if windows and ("DLL load failed" in err or "WinError 126" in err or "WinError 127" in err):
            out.append(
                probe_finding(
                    "probe-torch-dll",
                    "windows-dll-load",
                    Severity.ERROR,
                    "torch cannot load its DLLs",
                    f"import torch fails in the pipeline's Python: {err}",
                    advice=[
                        "Reinstall torch for your CUDA driver (see pytorch.org) in the musubi-tuner venv.",
                        "Install the Microsoft Visual C++ Redistributable (x64).",
                    ],
                    priority=95,
                )
            )
        else:
            out.append(
                probe_finding(
                    "probe-torch-missing",
                    "module-not-installed",
                    Severity.ERROR,
                    "torch is not importable in the pipeline's Python",
                    f"import torch: {err}",
                    advice=wheel_for(data).advice(pip),
                    priority=95,
                )
            )
    elif not torch.get("cuda_available"):
        if not torch.get("cuda_build"):
            msg = (
                f"torch {torch.get('version')} is a CPU-only build: every Wan script dies at import"
                " with 'Torch not compiled with CUDA enabled' (the T5 module calls"
                " torch.cuda.current_device() when imported)."
            )
            advice = wheel_for(data).advice(pip, force=True)
        else:
            msg = (
                f"torch {torch.get('version')} (CUDA {torch.get('cuda_build')}) sees no GPU"
                + (f" ({torch['cuda_error']})" if torch.get("cuda_error") else "")
                + ": every Wan script dies at import with 'Found no NVIDIA driver on your system'."
            )
            advice = [
                "Check `nvidia-smi`; install or update the NVIDIA driver.",
                "Check CUDA_VISIBLE_DEVICES is not empty or wrong.",
            ]
        out.append(
            probe_finding(
                "probe-no-cuda",
                "no-cuda",
                Severity.ERROR,
                "No usable CUDA GPU for torch",
                msg,
                advice=advice,
                priority=95,
            )
        )
    elif torch.get("arch_list"):
        out.extend(_arch_findings(torch, c.pip, data))

    return out


def arch_supported(cap: str, arch_list: list[str]) -> bool | None:
    """Whether a torch build with ``arch_list`` kernels runs on a GPU of compute capability
    ``cap`` ("12.0"): a cubin runs on its major version at the same or a higher minor, PTX
    (compute_XY) is compiled on the fly for any newer GPU. None when unknown."""
    try:
        major, minor = (int(x) for x in cap.split(".")[:2])
    except ValueError:
        return None
    for arch in arch_list:
        m = re.fullmatch(r"(sm|compute)_(\d+)(\d)([a-z]?)", arch)
        if m is None:
            continue
        kind, a_major, a_minor, suffix = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
        if (
            kind == "sm"
            and a_major == major
            and (a_minor == minor or (not suffix and a_minor < minor))
        ):
            return True
        if kind == "compute" and (a_major, a_minor) <= (major, minor):
            return True
    return False


def _arch_findings(torch: dict, pip: str, data: dict) -> list[Finding]:
    arch_list = [str(a) for a in torch.get("arch_list") or []]
    out: list[Finding] = []
    for gpu in torch.get("gpus") or []:
        cap = str(gpu.get("capability") or "")
        if arch_supported(cap, arch_list) is not False:
            continue
        sm = "sm_" + cap.replace(".", "")
        wheel = wheel_for(data)
        out.append(
            probe_finding(
                "probe-gpu-arch",
                "gpu-arch-unsupported",
                Severity.ERROR,
                f"This torch build has no kernels for the {gpu.get('name') or 'GPU'} ({sm})",
                f"torch {torch.get('version')} (CUDA {torch.get('cuda_build')}) was built for"
                f" {', '.join(arch_list)}. On this GPU every CUDA operation fails with 'no kernel"
                " image is available for execution on the device' (RTX 50-series cards need a"
                " torch built with CUDA 12.8 or newer).",
                advice=[
                    *wheel.advice(pip, force=True),
                    "Extension wheels (xformers, flash-attn, sageattention) must be built for the same"
                    " torch and GPU.",
                ],
                captures={"gpu": str(gpu.get("name") or ""), "capability": cap},
                priority=95,
            )
        )
        break  # one finding: the fix is the same for every GPU of the box
    return out


def attention_findings(c: ProbeContext) -> list[Finding]:
    """The attention flag's module is importable and built for this GPU."""
    data = c.data
    train = c.train
    torch = c.torch
    versions = c.versions
    out: list[Finding] = []
    att = data.get("attention") or {}
    for flag, (module, nameerror) in ATTENTION.items():
        if not train.has(flag):
            continue
        info = att.get(module) or {}
        if info.get("importable") is False:
            why = f" ({info['error']})" if info.get("error") else ""
            out.append(
                probe_finding(
                    "probe-attention-missing",
                    "attention-backend-missing",
                    Severity.ERROR,
                    f"{flag} is set but {module} does not import",
                    f"{module} is not importable in the pipeline's Python{why}. Training would fail at"
                    f" the first step, after all the loading, with 'NameError: {nameerror}'.",
                    steps=("train",),
                    fixes=[
                        FixAction(
                            "flag_replace",
                            {"step": "train", "flag": flag, "new_flag": "--sdpa"},
                            label=f"Use --sdpa instead of {flag}",
                        )
                    ],
                    advice=[f"Or install {module} into the pipeline's Python."],
                    priority=80,
                    captures={"flag": flag, "module": module},
                )
            )
    if train.has("--xformers") and (att.get("xformers") or {}).get("importable"):
        caps = [g.get("capability", "0.0") for g in torch.get("gpus") or []]
        xv = (att.get("xformers") or {}).get("version") or versions.get("xformers") or ""
        if any(capability(c) >= 10.0 for c in caps):
            out.append(
                probe_finding(
                    "probe-xformers-gpu",
                    "xformers-invalid-argument",
                    Severity.WARNING,
                    "xformers on a GPU generation it may not support",
                    f"xformers {xv} with compute capability {', '.join(caps)}: xformers builds lag new"
                    " GPUs and fail with 'CUDA error (flash-attention): invalid argument'.",
                    steps=("train",),
                    fixes=[
                        FixAction(
                            "flag_replace",
                            {"step": "train", "flag": "--xformers", "new_flag": "--sdpa"},
                            label="Use --sdpa instead of --xformers",
                        )
                    ],
                    priority=40,
                )
            )

    return out
