"""Probe checks of the machine's resources: shared memory, disk space, VRAM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wantui.core.finding import Finding, Severity
from wantui.core.fixactions import FixAction
from wantui.core.probe.context import (
    BLOCKS,
    PARAMS,
    GiB,
    ProbeContext,
    gib_text,
    lora_bytes,
    probe_finding,
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
                probe_finding(
                    "probe-shm",
                    "dataloader-shm",
                    Severity.WARNING,
                    f"/dev/shm is only {gib_text(shm['total_bytes'])} for {workers} DataLoader workers",
                    "DataLoader workers pass batches through /dev/shm; a small one (Docker's default is"
                    " 64 MB) kills them with 'Bus error' / insufficient shared memory.",
                    steps=("train",),
                    fixes=[
                        FixAction(
                            "flag_set",
                            {"step": "train", "flag": "--max_data_loader_n_workers", "value": "0"},
                            label="Load data in the main process",
                        )
                    ],
                    advice=["Or start the container with --shm-size=16g (or --ipc=host)."],
                    priority=50,
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
                probe_finding(
                    "probe-disk",
                    "disk-full",
                    sev,
                    f"Low disk space at {entry.get('path')}",
                    f"{gib_text(free)} free at {entry.get('measured_at')} for {what}; the run needs about"
                    f" {gib_text(need)} ({'LoRA checkpoints of ' + gib_text(per_save) + ' each' if is_output else 'cache files'})."
                    " It would fail with 'No space left on device'.",
                    advice=["Free space there, or point the folder at a larger disk."],
                    priority=55,
                    captures={"path": str(entry.get("path"))},
                )
            )
    return out


def oom_findings(data: dict[str, Any], train: ArgView, dit: ModelInfo) -> list[Finding]:
    """A rough VRAM budget: DiT weights resident on the GPU plus working memory."""
    torch = data.get("torch") or {}
    gpus = torch.get("gpus") or []
    if not gpus or dit.kind != "wan-dit" or dit.details.get("params") not in PARAMS:
        return []
    params = dit.details["params"]
    vram = min(int(g.get("total_bytes") or 0) for g in gpus)
    # an fp8 file without --fp8_base is up-cast on load: only the flag keeps 1 byte/weight
    fp8 = train.has("--fp8_base")
    bytes_per = 1 if fp8 else 2
    weights = PARAMS[params] * bytes_per
    swap = train.int("--blocks_to_swap", 0) or 0
    blocks = BLOCKS[params]
    resident = weights * (1 - min(swap, blocks - 1) / blocks * 0.95)
    if train.has("--dit_high_noise") and not train.has("--offload_inactive_dit"):
        resident *= 2  # both experts stay in VRAM
    work = (3 if train.has("--gradient_checkpointing") else 12) * GiB
    need = resident + work
    if need <= vram:
        return []
    fixes: list[FixAction] = []
    if not train.has("--gradient_checkpointing"):
        fixes.append(
            FixAction(
                "flag_add",
                {"step": "train", "flag": "--gradient_checkpointing"},
                label="Add --gradient_checkpointing",
            )
        )
    if not fp8:
        fixes.append(
            FixAction(
                "flag_add",
                {"step": "train", "flag": "--fp8_base"},
                label="Store the DiT in fp8 (--fp8_base)",
            )
        )
    per_block = weights / blocks
    want = min(blocks - 1, int((need - vram) / per_block) + 2 + swap)
    if want > swap and not train.has("--offload_inactive_dit"):
        fixes.append(
            FixAction(
                "flag_set",
                {"step": "train", "flag": "--blocks_to_swap", "value": str(want)},
                label=f"Swap {want} blocks to the CPU",
            )
        )
    return [
        probe_finding(
            "probe-vram",
            "cuda-oom",
            Severity.WARNING,
            f"The {params} DiT likely does not fit in {gib_text(vram)} of VRAM",
            f"Estimated {gib_text(need)} needed ({gib_text(resident)} of DiT weights on the GPU"
            f"{' for both experts' if train.has('--dit_high_noise') and not train.has('--offload_inactive_dit') else ''}"
            f" + ~{gib_text(work)} working memory) on a {gpus[0].get('name')} with {gib_text(vram)}:"
            " expect 'CUDA out of memory'. This is an estimate; resolution, frames and batch size matter.",
            steps=("train",),
            fixes=fixes,
            priority=45,
        )
    ]
