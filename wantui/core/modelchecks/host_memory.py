"""host-oom: the weights a step holds in system RAM against what the probe reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wantui.core.args.options import project_view
from wantui.core.finding import Finding, Severity

if TYPE_CHECKING:
    from wantui.core.project import Project
from wantui.core.modelchecks.refs import (
    ModelRef,
    model_finding,
)

GiB = 1024**3
# the interpreter, torch, transformers and the data pipeline, besides the weights
HOST_OVERHEAD = 4 * GiB


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
    train = project_view(project, "train")
    dit = by_flag.get(("train", "--dit"))
    if dit is not None:

        def resident(ref: ModelRef) -> int:
            # --fp8_base halves 16-bit weights; fp8 files are already that size
            halve = train.has("--fp8_base") and ref.info.dtype in ("bf16", "fp16", "fp32")
            return ref.info.size // (2 if halve else 1)

        parts: list[str] = []
        need = HOST_OVERHEAD
        if (train.int("--blocks_to_swap") or 0) > 0:
            # block swap loads the DiT to the CPU and keeps the swapped blocks there
            need += resident(dit)
            parts.append(f"the DiT loaded on the CPU for block swap ({_gb(resident(dit))})")
        high = by_flag.get(("train", "--dit_high_noise"))
        if high is not None and train.has("--offload_inactive_dit"):
            need += resident(high)
            parts.append(f"the inactive expert offloaded to RAM ({_gb(resident(high))})")
        if parts and need > avail:
            out.append(_host_oom("train", need, avail, where, " and ".join(parts), dit))
    return out


def _gb(n: int) -> str:
    return f"{n / GiB:.1f} GiB"


def _host_oom(step: str, need: int, avail: int, where: str, what: str, ref: ModelRef) -> Finding:
    return model_finding(
        "host-ram-low",
        "host-oom",
        Severity.WARNING,
        f"The {step} step likely needs more system memory than {where} allows",
        f"About {_gb(need)} is needed ({what}, plus ~{_gb(HOST_OVERHEAD)} for Python, torch and"
        f" the data pipeline) and {where} is {_gb(avail)}: the kernel's OOM killer would end"
        " the step with SIGKILL ('Killed', exit -9) and no Python error. This is an estimate.",
        ref,
        steps=(step,),
        advice=[
            "Use a machine or container with more memory, or fewer --blocks_to_swap.",
            "Close other processes that hold memory (another training, a notebook).",
        ],
        priority=55,
    )
