"""The planner: will a Wan LoRA training fit this machine, how long will it take, what
will it cost. Pure arithmetic over the flags, the dataset and the model headers; imports
neither torch nor textual."""

from __future__ import annotations

from wantui.core.plan.inputs import PlanInputs, inputs_from_command, inputs_from_project
from wantui.core.plan.planner import (
    Machine,
    Plan,
    StepPlan,
    machine_from_probe,
    make_plan,
    min_blocks_to_swap,
)

__all__ = [
    "Machine",
    "Plan",
    "PlanInputs",
    "StepPlan",
    "inputs_from_command",
    "inputs_from_project",
    "machine_from_probe",
    "make_plan",
    "min_blocks_to_swap",
]
