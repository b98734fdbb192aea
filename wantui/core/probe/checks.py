"""Findings drawn from the probe's data, in the light of the project's command lines.

Pure functions over the probe's JSON: no subprocess here, so every rule is testable with
a hand-written dict as well as with a real probe run.
The checks live in ``check_gpu``, ``check_packages``, ``check_accelerate`` and
``check_resources``; this module runs them in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wantui.core.finding import Finding
from wantui.core.probe.check_accelerate import accelerate_findings
from wantui.core.probe.check_gpu import attention_findings, torch_findings
from wantui.core.probe.check_packages import (
    bitsandbytes_findings,
    musubi_findings,
    tensorboard_findings,
    tokenizer_findings,
)
from wantui.core.probe.check_resources import disk_findings, oom_findings, shm_findings
from wantui.core.probe.context import (
    ATTENTION,
    BLOCKS,
    OPENCV,
    PARAMS,
    REQUIRED,
    SECTIONS,
    GiB,
    ProbeContext,
    lora_bytes,
    unknown_sections,
)

if TYPE_CHECKING:
    from wantui.core.models import ModelInfo
    from wantui.core.project import Project

__all__ = [
    "ATTENTION",
    "BLOCKS",
    "GiB",
    "OPENCV",
    "PARAMS",
    "REQUIRED",
    "SECTIONS",
    "lora_bytes",
    "probe_findings",
    "unknown_sections",
]


def probe_findings(
    data: dict[str, Any],
    *,
    project: Project | None = None,
    checkout: str | None = None,
    dit: ModelInfo | None = None,
) -> list[Finding]:
    """Findings from a probe report; ``project`` adds the checks that depend on the flags."""
    c = ProbeContext.of(data, project=project, checkout=checkout, dit=dit)
    out: list[Finding] = []
    out.extend(torch_findings(c))
    out.extend(musubi_findings(c))
    out.extend(attention_findings(c))
    out.extend(bitsandbytes_findings(c))
    out.extend(tensorboard_findings(c))
    out.extend(tokenizer_findings(c))
    out.extend(accelerate_findings(c))
    out.extend(shm_findings(c))
    out.extend(disk_findings(data, c.train, dit))
    if dit is not None:
        out.extend(oom_findings(c))
    return out
