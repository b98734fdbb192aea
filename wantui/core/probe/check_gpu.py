"""Probe checks of torch, CUDA and the attention backends the flags ask for."""

from __future__ import annotations

from wantui.core.finding import Finding, Severity
from wantui.core.fixactions import FixAction
from wantui.core.probe.context import (
    ATTENTION,
    ProbeContext,
    capability,
    probe_finding,
)
from wantui.core.probe.flags import has_flag


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
                    advice=[
                        f"{pip} torch torchvision --index-url https://download.pytorch.org/whl/cu128"
                    ],
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
            advice = [
                f"{pip} --force-reinstall torch torchvision --index-url https://download.pytorch.org/whl/cu128"
            ]
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
        if not has_flag(train, flag):
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
    if has_flag(train, "--xformers") and (att.get("xformers") or {}).get("importable"):
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
