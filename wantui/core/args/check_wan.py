"""Wan-specific training checks: task vs. Wan2.2 experts, precision vs. the DiT's dtype,
fp8 flags and block swap against the DiT's layers."""

from __future__ import annotations

import re
from typing import Any

from wantui.core.args.catalog import WAN22_TASKS
from wantui.core.args.state import ArgState, StepFindings, launch_value
from wantui.core.fixactions import FixAction


def check_wan22_task(
    s: ArgState, out: StepFindings, *, task: str, high: str | None, infos: dict[str, Any]
) -> None:
    """Wan2.2 high/low experts against --task."""
    # The file says what it is; the (possibly wrong) task string is only a fallback.
    dit_info = infos.get("--dit")
    family = (
        dit_info.details.get("family")
        if dit_info is not None and dit_info.kind == "wan-dit"
        else None
    )
    is_i2v = family in ("i2v", "flf2v") if family else "i2v" in task
    wan22_fix = "i2v-A14B" if is_i2v else "t2v-A14B"
    task_fix = FixAction(
        "flag_set" if s.has("--task") else "flag_add",
        {"step": "train", "flag": s.flag("--task"), "value": wan22_fix},
        label=f"Set --task {wan22_fix}",
    )
    if high and task not in WAN22_TASKS:
        if not s.has("--timestep_boundary"):
            out.emit(
                "timestep-boundary-missing",
                captures={"task": task},
                text={
                    "default": " (the default)" if not s.has("--task") else None,
                    "wan22_task": wan22_fix,
                    "boundary": 900 if is_i2v else 875,
                },
                fixes=[task_fix],
            )
        else:
            out.emit(
                "wan22-task-not-set",
                captures={"task": task},
                text={
                    "weights": "Wan2.2 experts",
                    "why": "With --dit_high_noise, the weights are Wan2.2, but the task selects",
                    "detail": " (time embedding, V2.2: False)",
                },
                fixes=[task_fix],
            )
    elif task not in WAN22_TASKS:
        info = infos.get("--dit")
        version = (
            info.details.get("wan_version") if info is not None and info.kind == "wan-dit" else None
        )
        if version == "2.2":
            out.emit(
                "wan22-task-not-set",
                captures={"task": task},
                text={
                    "weights": "A Wan2.2 DiT",
                    "why": "The DiT looks like Wan2.2 (file name/metadata); without `--task "
                    "t2v-A14B`/`i2v-A14B` it trains with",
                },
                fixes=[task_fix],
                priority=50,
            )
    if s.has("--offload_inactive_dit") and not high:
        out.emit("offload-without-high-noise")


def check_precision(
    s: ArgState, out: StepFindings, *, infos: dict[str, Any], launch_args: list[str]
) -> None:
    """--mixed_precision (script and accelerate) against the DiT's dtype."""
    dit = infos.get("--dit")
    dtype = dit.dtype if dit is not None and dit.kind == "wan-dit" else None
    script_mp = s.get("--mixed_precision")
    accel_mp = launch_value(launch_args, "--mixed_precision")
    if dtype in ("bf16", "fp16"):
        if script_mp not in (dtype, "no"):
            trap = script_mp is None and accel_mp == dtype
            fixes = [
                FixAction(
                    "flag_set" if s.has("--mixed_precision") else "flag_add",
                    {"step": "train", "flag": s.flag("--mixed_precision"), "value": dtype},
                    label=f"Set the script's --mixed_precision {dtype}",
                )
            ]
            if accel_mp is not None and accel_mp != dtype:
                fixes.append(
                    FixAction(
                        "flag_set",
                        {"step": "launch", "flag": "--mixed_precision", "value": dtype},
                        label=f"Set accelerate's --mixed_precision {dtype}",
                    )
                )
            out.emit(
                "precision-mismatch",
                captures={"dit_dtype": dtype, "mixed_precision": script_mp or ""},
                text={
                    "dtype": dtype,
                    "setting": f", the script's --mixed_precision is {script_mp or 'not set'}",
                    "lead": "musubi-tuner asserts `",
                    "tail": "`."
                    + (
                        f" Passing --mixed_precision {dtype} to accelerate launch alone does "
                        "not satisfy it: the check reads the script's own option."
                        if trap
                        else ""
                    ),
                },
                fixes=fixes,
                priority=80,
            )
    elif script_mp is None and dit is None:
        out.emit(
            "precision-unset",
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--mixed_precision", "value": accel_mp or "bf16"},
                    label=f"Add --mixed_precision {accel_mp or 'bf16'}",
                )
            ],  # fmt: skip
        )
    if script_mp and accel_mp and script_mp != accel_mp and accel_mp != "no" and script_mp != "no":
        out.emit(
            "precision-launch-mismatch",
            text={"launch_mp": accel_mp, "script_mp": script_mp},
            fixes=[
                FixAction(
                    "flag_set",
                    {"step": "launch", "flag": "--mixed_precision", "value": script_mp},
                    label=f"Set accelerate's --mixed_precision {script_mp}",
                )
            ],  # fmt: skip
        )


def check_fp8(s: ArgState, out: StepFindings, *, infos: dict[str, Any]) -> None:
    """fp8 flags against the DiT's dtype."""
    dit = infos.get("--dit")
    dtype = dit.dtype if dit is not None and dit.kind == "wan-dit" else None
    if s.has("--fp8_scaled") and dtype in ("fp8_e4m3fn", "fp8_e5m2"):
        out.emit(
            "fp8-scaled-on-fp8-weights",
            fixes=[
                FixAction(
                    "flag_remove",
                    {"step": "train", "flag": s.flag("--fp8_scaled")},
                    label="Remove --fp8_scaled",
                )
            ]
            + (
                []
                if s.has("--fp8_base")
                else [
                    FixAction(
                        "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                    )
                ]
            ),  # fmt: skip
        )
    elif s.has("--fp8_scaled") and not s.has("--fp8_base"):
        out.emit(
            "fp8-scaled-without-base",
            text={"lead": "musubi-tuner asserts `", "tail": "`."},
            fixes=[
                FixAction(
                    "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                )
            ],
            priority=75,
        )
    elif dtype in ("fp8_e4m3fn",) and not s.has("--fp8_base"):
        out.emit(
            "fp8-weights-without-fp8-base",
            fixes=[
                FixAction(
                    "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                )
            ],
        )


def check_block_swap(
    s: ArgState, out: StepFindings, *, task: str, high: str | None, infos: dict[str, Any]
) -> None:
    """--blocks_to_swap against the DiT's layers and the expert offload."""
    dit = infos.get("--dit")
    swap_raw = s.get("--blocks_to_swap")
    swap = int(swap_raw) if swap_raw is not None and re.fullmatch(r"-?\d+", swap_raw) else None
    layers = dit.details.get("layers") if dit is not None and dit.kind == "wan-dit" else None
    max_swap = (
        (layers - 1) if isinstance(layers, int) and layers > 1 else (29 if "1.3B" in task else 39)
    )
    if swap is not None and swap > max_swap:
        out.emit(
            "blocks-to-swap-too-many",
            text={"swap": swap, "max": max_swap},
            fixes=[
                FixAction(
                    "flag_set",
                    {"step": "train", "flag": s.flag("--blocks_to_swap"), "value": str(max_swap)},
                    label=f"Set --blocks_to_swap {max_swap}",
                )
            ],  # fmt: skip
        )
    if swap and swap > 0 and s.has("--offload_inactive_dit") and high:
        out.emit(
            "blockswap-with-offload",
            fixes=[
                FixAction(
                    "flag_remove",
                    {"step": "train", "flag": s.flag("--offload_inactive_dit")},
                    label="Remove --offload_inactive_dit (keep block swap)",
                ),
                FixAction(
                    "flag_remove",
                    {"step": "train", "flag": s.flag("--blocks_to_swap")},
                    label="Remove --blocks_to_swap (keep offloading)",
                ),
            ],  # fmt: skip
        )
    if s.has("--block_swap_h2d_only") and not s.has("--gradient_checkpointing"):
        out.emit(
            "h2d-only-without-checkpointing",
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--gradient_checkpointing"},
                    label="Add --gradient_checkpointing",
                )
            ],  # fmt: skip
        )
