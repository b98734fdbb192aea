"""Probe checks of the machine's resources: shared memory, disk space, VRAM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wantui.core.finding import Finding, Severity
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction
from wantui.core.probe.context import (
    PARAMS,
    GiB,
    ProbeContext,
    gib_text,
    lora_bytes,
)

if TYPE_CHECKING:
    from wantui.core.args.options import ArgView
    from wantui.core.models import ModelInfo


def shm_findings(c: ProbeContext) -> list[Finding]:
    """Shared memory for the DataLoader workers."""
    data = c.data
    train = c.train
    out: list[Finding] = []
    shm = data.get("shm") or {}
    workers = train.int("--max_data_loader_n_workers", 8) if train else 0
    if shm.get("exists") and shm.get("total_bytes") is not None and workers:
        if shm["total_bytes"] < 1 * GiB:
            out.append(
                emit(
                    "probe-shm",
                    origin="probe",
                    text={"size": gib_text(shm["total_bytes"]), "workers": workers},
                    fixes=[
                        FixAction(
                            "flag_set",
                            {"step": "train", "flag": "--max_data_loader_n_workers", "value": "0"},
                            label="Load data in the main process",
                        )
                    ],
                )
            )

    return out


def disk_findings(data: dict[str, Any], train: ArgView, dit: ModelInfo | None) -> list[Finding]:
    out: list[Finding] = []
    output_dir = train.get("--output_dir")
    params = (
        dit.details.get("params", "14B") if dit is not None and dit.kind == "wan-dit" else "14B"
    )
    rank = train.int("--network_dim", 4) or 4
    per_save = lora_bytes(params if params in PARAMS else "14B", rank)
    for entry in data.get("disk") or []:
        free = entry.get("free_bytes")
        if free is None:
            continue
        is_output = output_dir is not None and str(entry.get("path")) in (
            output_dir,
            str(output_dir),
        )
        # output: a few checkpoints plus state; caches: latents and T5 outputs (~1-4 MB each)
        need = max(3 * per_save, 2 * GiB) if is_output else 2 * GiB
        if free < need:
            sev = Severity.ERROR if free < 512 * 1024**2 else Severity.WARNING
            what = "the output folder" if is_output else "this folder"
            out.append(
                emit(
                    "probe-disk",
                    origin="probe",
                    severity=sev,
                    captures={"path": str(entry.get("path"))},
                    text={
                        "free": gib_text(free),
                        "measured_at": str(entry.get("measured_at")),
                        "what": what,
                        "need": gib_text(need),
                        "for_what": f"LoRA checkpoints of {gib_text(per_save)} each"
                        if is_output
                        else "cache files",
                    },
                )
            )
    return out


def oom_findings(c: ProbeContext) -> list[Finding]:
    """cuda-oom: the training step's planned peak (`wantui plan`'s memory model: weights
    by dtype and block swap, activations per token of the dataset's largest sample, LoRA
    and optimizer) against the probed GPU. A prediction, hence a warning."""
    from wantui.core.errors import WantuiError
    from wantui.core.plan import inputs_from_project, machine_from_probe, make_plan
    from wantui.core.plan.planner import usable

    if c.project is None or "train" not in c.project.steps or not c.project.steps["train"].enabled:
        return []
    machine = machine_from_probe(c.data)
    if not machine.gpu_bytes:
        return []
    try:
        inputs = inputs_from_project(c.project)
        plan = make_plan(inputs, machine)
    except (WantuiError, OSError, ValueError):
        # an unreadable dataset config is reported by the dataset checks; plan without it
        inputs = inputs_from_project(c.project)
        inputs.dataset_config = None
        plan = make_plan(inputs, machine)
    train = plan.step("train")
    if train is None or train.vram_peak_gib is None:
        return []
    if train.vram_peak_gib * GiB <= usable(machine.gpu_bytes):  # host RAM: host-oom's job
        return []
    has = inputs.has
    fixes: list[FixAction] = []
    if train.min_blocks_to_swap is not None and not has("train", "--offload_inactive_dit"):
        fixes.append(
            FixAction(
                "flag_set",
                {
                    "step": "train",
                    "flag": "--blocks_to_swap",
                    "value": str(train.min_blocks_to_swap),
                },
                label=f"Swap {train.min_blocks_to_swap} blocks to the CPU (the fewest that fit)",
            )
        )
    if not has("train", "--gradient_checkpointing"):
        fixes.append(
            FixAction(
                "flag_add",
                {"step": "train", "flag": "--gradient_checkpointing"},
                label="Add --gradient_checkpointing",
            )
        )
    if not has("train", "--fp8_base"):
        fixes.append(
            FixAction(
                "flag_add",
                {"step": "train", "flag": "--fp8_base"},
                label="Store the DiT in fp8 (--fp8_base)",
            )
        )
    parts = ", ".join(f"{k} {v:.1f} GiB" for k, v in list(train.parts.items())[:4])
    return [
        emit(
            "probe-vram",
            origin="probe",
            text={
                "vram": gib_text(machine.gpu_bytes),
                "peak": f"{train.vram_peak_gib:.1f}",
                "parts": parts,
                "gpu_name": str(machine.gpu_name),
                "windows": " (or, on Windows, a spill into shared GPU memory, several times slower)"
                if machine.windows
                else "",
                "change": f" No block swap is enough; first change that is: {train.change}."
                if train.change
                else "",
            },
            fixes=fixes,
        )
    ]
