"""Probe checks of accelerate: its config against the launcher and the GPUs there are."""

from __future__ import annotations

from wantui.core.finding import Finding
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction, windows_single_process_fixes
from wantui.core.probe.context import (
    ProbeContext,
    as_int,
)


def accelerate_findings(c: ProbeContext) -> list[Finding]:
    """accelerate launch, its config and multi-GPU runs."""
    data = c.data
    launcher = c.launcher
    launch_args = c.launch_args
    windows = c.windows
    torch = c.torch
    unknown = c.unknown
    out: list[Finding] = []
    acc = data.get("accelerate") or {}
    cfg = acc.get("config") or {}
    ngpu = int(torch.get("device_count") or 0)
    if launcher == "accelerate" and "accelerate" not in unknown:
        nproc = launch_args.int("--num_processes")
        multi = launch_args.has("--multi_gpu") or (nproc or 0) > 1
        if nproc is None and not launch_args.has("--multi_gpu"):
            if acc.get("config_exists"):
                multi = as_int(cfg.get("num_processes")) > 1 or "MULTI" in str(
                    cfg.get("distributed_type", "")
                )
            else:
                multi = ngpu > 1  # accelerate picks multi-GPU by itself without a config
        if windows and multi:
            out.append(
                emit(
                    "probe-windows-libuv",
                    origin="probe",
                    text={
                        "why": ""
                        if acc.get("config_exists")
                        else f" (no accelerate config and {ngpu} GPUs: accelerate switches to"
                        " multi-GPU by itself)"
                    },
                    fixes=windows_single_process_fixes(),
                )
            )
        if acc.get("config_exists"):
            problems = []
            if str(cfg.get("use_cpu", "")).lower() == "true":
                problems.append(
                    "use_cpu: true (training would run on the CPU or fail with"
                    " 'fp16 mixed precision requires a GPU')"
                )
            ids = [
                s.strip()
                for s in str(cfg.get("gpu_ids", "")).split(",")
                if s.strip() not in ("", "all")
            ]
            bad_ids = (
                [i for i in ids if i.isdigit() and int(i) >= ngpu]
                if torch.get("cuda_available")
                else []
            )
            if bad_ids:
                problems.append(f"gpu_ids {','.join(bad_ids)} do not exist ({ngpu} GPU(s) visible)")
            if (
                nproc is None
                and torch.get("cuda_available")
                and as_int(cfg.get("num_processes")) > max(ngpu, 1)
            ):
                problems.append(
                    f"num_processes {cfg.get('num_processes')} but {ngpu} GPU(s) visible"
                )
            if problems:
                out.append(
                    emit(
                        "probe-accelerate-config",
                        origin="probe",
                        text={
                            "config_file": str(acc.get("config_file")),
                            "problems": "; ".join(problems),
                        },
                        fixes=[
                            FixAction(
                                "flag_set",
                                {"step": "launch", "flag": "--num_processes", "value": "1"},
                                label="Launch one process on GPU 0",
                            ),
                            FixAction(
                                "flag_set",
                                {"step": "launch", "flag": "--gpu_ids", "value": "0"},
                                label="Use GPU 0",
                            ),
                        ],
                    )
                )
        elif not launch_args.has("--num_processes"):
            out.append(
                emit(
                    "probe-accelerate-defaults",
                    origin="probe",
                    text={
                        "config_file": str(acc.get("config_file")),
                        "multi": f" (multi-GPU with {ngpu} GPUs)" if ngpu > 1 else "",
                    },
                    fixes=[
                        FixAction(
                            "flag_add",
                            {"step": "launch", "flag": "--num_processes", "value": "1"},
                            label="Pass --num_processes 1 explicitly",
                        )
                    ],
                )
            )

    return out
