"""Probe checks of torch, CUDA and the attention backends the flags ask for."""

from __future__ import annotations

import re

from wantui.core.finding import Finding
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction
from wantui.core.probe.context import (
    ATTENTION,
    ProbeContext,
    capability,
)
from wantui.core.probe.wheels import wheel_for


def _wheel(lines: list[str]) -> dict[str, str]:
    """A wheel's advice lines (``WheelAdvice.advice``) as the text values ``driver_update``
    (when the driver must change first) and ``install``."""
    return {"driver_update": lines[0] if len(lines) > 1 else "", "install": lines[-1]}


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
            emit("probe-torch-slow", origin="probe", text={"elapsed": str(data.get("elapsed_s"))})
        )
    elif not torch.get("installed") or torch.get("error"):
        err = torch.get("error") or "not installed"
        if windows and ("DLL load failed" in err or "WinError 126" in err or "WinError 127" in err):
            out.append(emit("probe-torch-dll", origin="probe", text={"error": err}))
        else:
            out.append(
                emit(
                    "probe-torch-missing",
                    origin="probe",
                    text={"error": err, **_wheel(wheel_for(data).advice(pip))},
                )
            )
    elif not torch.get("cuda_available"):
        text: dict[str, str] = {"version": str(torch.get("version"))}
        if not torch.get("cuda_build"):
            text.update(
                state=" is a CPU-only build",
                error="Torch not compiled with CUDA enabled",
                why=" (the T5 module calls torch.cuda.current_device() when imported)",
                **_wheel(wheel_for(data).advice(pip, force=True)),
            )
        else:
            text.update(
                state=f" (CUDA {torch.get('cuda_build')}) sees no GPU"
                + (f" ({torch['cuda_error']})" if torch.get("cuda_error") else ""),
                error="Found no NVIDIA driver on your system",
            )
        out.append(emit("probe-no-cuda", origin="probe", text=text))
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
            emit(
                "probe-gpu-arch",
                origin="probe",
                captures={"gpu": str(gpu.get("name") or ""), "capability": cap},
                text={
                    "sm": sm,
                    "version": str(torch.get("version")),
                    "cuda_build": str(torch.get("cuda_build")),
                    "archs": ", ".join(arch_list),
                    **_wheel(wheel.advice(pip, force=True)),
                },
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
                emit(
                    "probe-attention-missing",
                    origin="probe",
                    captures={"flag": flag, "module": module},
                    text={"why": why, "nameerror": nameerror},
                    fixes=[
                        FixAction(
                            "flag_replace",
                            {"step": "train", "flag": flag, "new_flag": "--sdpa"},
                            label=f"Use --sdpa instead of {flag}",
                        )
                    ],
                )
            )
    if train.has("--xformers") and (att.get("xformers") or {}).get("importable"):
        caps = [g.get("capability", "0.0") for g in torch.get("gpus") or []]
        xv = (att.get("xformers") or {}).get("version") or versions.get("xformers") or ""
        if any(capability(c) >= 10.0 for c in caps):
            out.append(
                emit(
                    "probe-xformers-gpu",
                    origin="probe",
                    text={"version": xv, "caps": ", ".join(caps)},
                    fixes=[
                        FixAction(
                            "flag_replace",
                            {"step": "train", "flag": "--xformers", "new_flag": "--sdpa"},
                            label="Use --sdpa instead of --xformers",
                        )
                    ],
                )
            )

    return out
