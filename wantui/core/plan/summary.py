"""The plan for a project on a probed machine, and its one-line verdict (doctor, the
guided setup's last screen)."""

from __future__ import annotations

from typing import Any

from wantui.core.errors import WantuiError
from wantui.core.plan.inputs import inputs_from_project
from wantui.core.plan.planner import Machine, Plan, machine_from_probe, make_plan


def plan_for_project(project: Any, probe_data: dict[str, Any] | None) -> Plan | None:
    """`wantui plan` for a project's training on the probed machine; None without a
    training step or when its inputs cannot be read (the checks say why)."""
    if project is None or "train" not in getattr(project, "steps", {}):
        return None
    try:
        machine = machine_from_probe(probe_data) if probe_data else Machine()
        return make_plan(inputs_from_project(project), machine)
    except (WantuiError, OSError, ValueError):
        return None


def train_verdict(plan: Plan | None) -> str | None:
    """``train: 27.8 GiB VRAM, 27.1 GiB RAM, does not fit (--blocks_to_swap 32 would);
    ~106.5 s/step, ~3.0 h``, or None when there is nothing to say."""
    train = plan.step("train") if plan is not None else None
    if train is None or train.vram_peak_gib is None or train.ram_peak_gib is None:
        return None
    verdict = {True: "fits", False: "does not fit", None: "fit not judged"}[train.fits]
    text = f"train: {train.vram_peak_gib:.1f} GiB VRAM, {train.ram_peak_gib:.1f} GiB RAM, {verdict}"
    if train.fits is False and train.min_blocks_to_swap is not None:
        text += f" (--blocks_to_swap {train.min_blocks_to_swap} would)"
    elif train.fits is False and train.change:
        text += f" ({train.change} would)"
    if train.sec_per_step is not None:
        text += f"; ~{train.sec_per_step:.1f} s/step"
        if train.hours is not None:
            text += f", ~{train.hours:.1f} h"
    return text
