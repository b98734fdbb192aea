"""Wan-specific training checks: task vs. Wan2.2 experts, precision vs. the DiT's dtype,
fp8 flags and block swap against the DiT's layers."""

from __future__ import annotations

import re
from typing import Any

from wantui.core.args.catalog import WAN22_TASKS
from wantui.core.args.state import ArgState, StepFindings, launch_value
from wantui.core.finding import Severity
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
            out.add(
                "timestep-boundary-missing",
                "timestep-boundary-missing",
                Severity.ERROR,
                f"--dit_high_noise with the Wan2.1 task {task}",
                f"`--task {task}`{' (the default)' if not s.has('--task') else ''} has no timestep boundary, so "
                "training fails with `timestep_boundary is not specified for high noise model`. Wan2.2 is selected "
                f"only with `--task {wan22_fix}`, which also brings its boundary.",
                fixes=[task_fix],
                advice=[f"Or keep the task and add --timestep_boundary {900 if is_i2v else 875}."],
                captures={"task": task},
                priority=80,
            )
        else:
            out.add(
                "wan22-task-not-set",
                "wan22-task-not-set",
                Severity.WARNING,
                f"Wan2.2 experts trained as Wan2.1 {task}",
                "With --dit_high_noise, the weights are Wan2.2, but the task selects the Wan2.1 config "
                "(time embedding, V2.2: False).",
                fixes=[task_fix],
                captures={"task": task},
                priority=60,
            )
    elif task not in WAN22_TASKS:
        info = infos.get("--dit")
        version = (
            info.details.get("wan_version") if info is not None and info.kind == "wan-dit" else None
        )
        if version == "2.2":
            out.add(
                "wan22-task-not-set",
                "wan22-task-not-set",
                Severity.WARNING,
                f"A Wan2.2 DiT trained as Wan2.1 {task}",
                "The DiT looks like Wan2.2 (file name/metadata); without `--task t2v-A14B`/`i2v-A14B` it trains "
                "with the Wan2.1 config.",
                fixes=[task_fix],
                captures={"task": task},
                priority=50,
            )
    if s.has("--offload_inactive_dit") and not high:
        out.add(
            "offload-without-high-noise",
            "blockswap-with-offload",
            Severity.INFO,
            "--offload_inactive_dit does nothing without --dit_high_noise",
            "It offloads the inactive expert of a high/low pair.",
            priority=10,
        )


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
            out.add(
                "precision-mismatch",
                "precision-mismatch",
                Severity.ERROR,
                f"The DiT is {dtype}, the script's --mixed_precision is {script_mp or 'not set'}",
                f"musubi-tuner asserts `DiT weights are in {dtype}, mixed precision must be {dtype} or no`"
                + (
                    f". Passing --mixed_precision {dtype} to accelerate launch alone does not satisfy it: the "
                    "check reads the script's own option."
                    if trap
                    else "."
                ),
                fixes=fixes,
                captures={"dit_dtype": dtype, "mixed_precision": script_mp or ""},
                priority=80,
            )
    elif script_mp is None and dit is None:
        out.add(
            "precision-unset",
            "precision-mismatch",
            Severity.WARNING,
            "The script's --mixed_precision is not set",
            "With bf16 or fp16 DiT weights musubi-tuner asserts that the script's own --mixed_precision matches "
            "them (accelerate's flag does not count). The DiT could not be read to tell which.",
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--mixed_precision", "value": accel_mp or "bf16"},
                    label=f"Add --mixed_precision {accel_mp or 'bf16'}",
                )
            ],  # fmt: skip
            priority=40,
        )
    if script_mp and accel_mp and script_mp != accel_mp and accel_mp != "no" and script_mp != "no":
        out.add(
            "precision-launch-mismatch",
            "precision-mismatch",
            Severity.WARNING,
            f"accelerate's --mixed_precision {accel_mp} differs from the script's {script_mp}",
            "The two disagree; musubi-tuner checks the script's against the DiT, accelerate autocasts with its own.",
            fixes=[
                FixAction(
                    "flag_set",
                    {"step": "launch", "flag": "--mixed_precision", "value": script_mp},
                    label=f"Set accelerate's --mixed_precision {script_mp}",
                )
            ],  # fmt: skip
            priority=40,
        )


def check_fp8(s: ArgState, out: StepFindings, *, infos: dict[str, Any]) -> None:
    """fp8 flags against the DiT's dtype."""
    dit = infos.get("--dit")
    dtype = dit.dtype if dit is not None and dit.kind == "wan-dit" else None
    if s.has("--fp8_scaled") and dtype in ("fp8_e4m3fn", "fp8_e5m2"):
        out.add(
            "fp8-scaled-on-fp8-weights",
            "fp8-scaled-on-fp8-weights",
            Severity.ERROR,
            "--fp8_scaled on fp8 weights",
            "The DiT is already fp8: `DiT weights is already in fp8 format, cannot scale to fp8`. Keep --fp8_base.",
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
            priority=75,
        )
    elif s.has("--fp8_scaled") and not s.has("--fp8_base"):
        out.add(
            "fp8-scaled-without-base",
            "fp8-scaled-on-fp8-weights",
            Severity.ERROR,
            "--fp8_scaled without --fp8_base",
            "musubi-tuner asserts `fp8_scaled requires fp8_base`.",
            fixes=[
                FixAction(
                    "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                )
            ],
            priority=75,
        )
    elif dtype in ("fp8_e4m3fn",) and not s.has("--fp8_base"):
        out.add(
            "fp8-weights-without-fp8-base",
            "fp8-scaled-on-fp8-weights",
            Severity.WARNING,
            "fp8 DiT without --fp8_base",
            "The fp8 weights are up-cast to bf16/fp16 on load, doubling their memory.",
            fixes=[
                FixAction(
                    "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                )
            ],
            priority=40,
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
        out.add(
            "blocks-to-swap-too-many",
            "blockswap-with-offload",
            Severity.ERROR,
            f"--blocks_to_swap {swap} is over the maximum {max_swap}",
            f"musubi-tuner asserts `Cannot swap more than {max_swap} blocks. Requested {swap} blocks to swap.`",
            fixes=[
                FixAction(
                    "flag_set",
                    {"step": "train", "flag": s.flag("--blocks_to_swap"), "value": str(max_swap)},
                    label=f"Set --blocks_to_swap {max_swap}",
                )
            ],  # fmt: skip
            priority=70,
        )
    if swap and swap > 0 and s.has("--offload_inactive_dit") and high:
        out.add(
            "blockswap-with-offload",
            "blockswap-with-offload",
            Severity.ERROR,
            "--blocks_to_swap with --offload_inactive_dit",
            "musubi-tuner asserts `Block swap is not supported with offloading inactive DiT`; keep one of them.",
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
            priority=70,
        )
    if s.has("--block_swap_h2d_only") and not s.has("--gradient_checkpointing"):
        out.add(
            "h2d-only-without-checkpointing",
            "invalid-argument-value",
            Severity.ERROR,
            "--block_swap_h2d_only needs --gradient_checkpointing",
            "musubi-tuner raises `--block_swap_h2d_only requires --gradient_checkpointing for training`.",
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--gradient_checkpointing"},
                    label="Add --gradient_checkpointing",
                )
            ],  # fmt: skip
            priority=60,
        )
