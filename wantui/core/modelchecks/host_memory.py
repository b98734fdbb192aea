"""host-oom: the weights a step holds in system RAM against what the probe reports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wantui.core.finding import Finding
from wantui.core.findings import emit
from wantui.core.plan.memory import HOST_OVERHEAD

if TYPE_CHECKING:
    from wantui.core.project import Project
from wantui.core.modelchecks.refs import (
    ModelRef,
    model_at,
)

GiB = 1024**3
__all__ = ["HOST_OVERHEAD", "host_memory_findings"]


def host_memory_findings(project: Project, refs: list[ModelRef], data: dict) -> list[Finding]:
    """host-oom: the weights a step holds in system RAM against the RAM the machine (or
    the container's memory limit) gives it. A rough estimate, hence a warning."""
    plat = data.get("platform") or {}
    limits = [
        v for v in (plat.get("ram_bytes"), plat.get("mem_limit_bytes")) if type(v) is int and v > 0
    ]
    if not limits:
        return []
    avail = min(limits)
    where = "the container's memory limit" if avail == plat.get("mem_limit_bytes") else "RAM"
    out: list[Finding] = []
    by_flag = {(r.step, r.flag): r for r in refs if r.info.size}
    t5 = by_flag.get(("te", "--t5"))
    if t5 is not None:
        # the T5 state dict is read whole into RAM (load_file / torch.load) before .to(cuda)
        need = t5.info.size + HOST_OVERHEAD
        if need > avail:
            out.append(
                _host_oom("te", need, avail, where, f"the T5 file ({_gb(t5.info.size)})", t5)
            )
    dit = by_flag.get(("train", "--dit"))
    if dit is not None:
        # what training holds in RAM besides the process itself: `wantui plan`'s model (the
        # DiT loaded on the CPU for block swap, pinned copies, offloaded experts/activations)
        train = _train_plan(project)
        extra = {k: v for k, v in (train.ram_parts if train else {}).items()
                 if v * GiB > 0 and k != "Python, torch, data pipeline"}  # fmt: skip
        need = HOST_OVERHEAD + sum(extra.values()) * GiB
        if extra and need > avail:
            what = " and ".join(f"{k} ({v:.1f} GiB)" for k, v in extra.items())
            out.append(_host_oom("train", int(need), avail, where, what, dit))
    return out


def _train_plan(project: Project) -> Any:
    from wantui.core.errors import WantuiError
    from wantui.core.plan import Machine, inputs_from_project, make_plan

    inputs = inputs_from_project(project)
    try:
        return make_plan(inputs, Machine()).step("train")
    except (WantuiError, OSError, ValueError):  # the dataset checks report an unreadable config
        inputs.dataset_config = None
        return make_plan(inputs, Machine()).step("train")


def _gb(n: int) -> str:
    return f"{n / GiB:.1f} GiB"


def _host_oom(step: str, need: int, avail: int, where: str, what: str, ref: ModelRef) -> Finding:
    return emit(
        "host-ram-low",
        **model_at(ref),
        text={
            "where": where,
            "need": _gb(need),
            "what": what,
            "overhead": _gb(HOST_OVERHEAD),
            "avail": _gb(avail),
        },
        steps=(step,),
    )
