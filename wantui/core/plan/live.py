"""The plan against the run: measured seconds per step far from the planned ones.

Steps several times slower than planned usually mean the GPU is not doing what the plan
assumed: on Windows the driver spills into shared GPU memory instead of failing with an
out-of-memory error, block swap waits on a slow bus, or another process holds the GPU.
"""

from __future__ import annotations

import shutil
import subprocess

from wantui.core.finding import Finding
from wantui.core.findings import emit
from wantui.core.progress import Progress, parse_progress

SLOW_FACTOR = 3.0  # beyond the speed model's own factor-of-2 uncertainty
WARMUP_STEPS = 3  # the first steps include compilation, caching and block-swap set-up


class SpeedWatch:
    """Feed it the training step's log lines; it raises one finding when the tqdm rate of
    the ``steps`` bar, past warm-up, is more than SLOW_FACTOR times the planned s/step."""

    def __init__(self, planned_sec: float, *, factor: float = SLOW_FACTOR,
                 warmup: int = WARMUP_STEPS) -> None:  # fmt: skip
        self.planned = planned_sec
        self.factor = factor
        self.warmup = warmup
        self.raised = False

    def feed(self, text: str) -> Finding | None:
        if self.raised or ("s/it" not in text and "it/s" not in text):
            return None
        return self.check(parse_progress(text))

    def check(self, p: Progress | None) -> Finding | None:
        """The same for an already parsed progress state (the TUI's feed has one)."""
        if self.raised or p is None:
            return None
        if p.desc != "steps" or p.step < self.warmup or not p.rate_its:
            return None
        measured = 1.0 / p.rate_its
        if measured <= self.factor * self.planned:
            return None
        self.raised = True
        return plan_mismatch(measured, self.planned, p.step)


def plan_mismatch(measured: float, planned: float, step: int) -> Finding:
    return emit(
        "plan-mismatch",
        origin="run",
        captures={"measured": f"{measured:.2f}", "planned": f"{planned:.2f}"},
        text={
            "ratio": f"{measured / planned:.1f}",
            "measured_s": f"{measured:.1f}",
            "planned_s": f"{planned:.1f}",
            "step": step,
        },
    )


def gpu_name() -> str | None:
    """The first GPU's name from nvidia-smi (two seconds at most), for the speed class when
    no probe report is at hand; None without nvidia-smi."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=2, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    first = out.stdout.strip().splitlines()[:1]
    return first[0].strip()[:100] or None if first else None


def planned_sec_per_step(project: object, gpu: str | None) -> float | None:
    """The plan's s/step for a project's training on a GPU class; None when it cannot be
    planned (no train step, no dataset, an unknown GPU, an unreadable input)."""
    from wantui.core.errors import WantuiError
    from wantui.core.plan.gpus import find_gpu
    from wantui.core.plan.inputs import inputs_from_project
    from wantui.core.plan.planner import Machine, make_plan

    cls = find_gpu(gpu)
    if cls is None:
        return None
    try:
        plan = make_plan(inputs_from_project(project), Machine(gpu_name=gpu, gpu_class=cls))
    except (WantuiError, OSError, ValueError):
        return None
    train = plan.step("train")
    return train.sec_per_step if train else None
