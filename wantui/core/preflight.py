"""Preflight: everything that can be predicted before the pipeline starts.

Three sources, one list of Findings:

1. the inputs checks (dataset TOML and the three command lines: ``check_project`` from
   :mod:`wantui.core.args`, or the dataset check alone while that is not available),
2. the model files each step names (``--dit``, ``--dit_high_noise``, ``--vae``, ``--t5``,
   ``--clip``), identified from their headers against ``--task`` and the precision and
   fp8 flags, plus the keys of existing latent caches against ``--task``, and the cache
   files a caching step about to run would delete (:mod:`wantui.core.dataset.cache_loss`),
3. the environment probe's report (:mod:`wantui.core.probe`), when one is given.

The model-file checks live in :mod:`wantui.core.modelchecks`; this module combines the
three sources.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from wantui.core.args.checkout import (
    Reference,
    project_reference,
    reference_findings,
    use_reference,
)
from wantui.core.args.options import options_for, project_view, read_args
from wantui.core.dataset.bucket_change import bucket_recache_findings
from wantui.core.dataset.cache_loss import cache_loss_findings
from wantui.core.finding import Finding, sort_findings
from wantui.core.modelchecks.caches import cache_dirs, clip_and_cache_findings
from wantui.core.modelchecks.files import file_findings
from wantui.core.modelchecks.flags import dit_findings
from wantui.core.modelchecks.host_memory import HOST_OVERHEAD, GiB, host_memory_findings
from wantui.core.modelchecks.refs import (
    DEFAULT_TASK,
    MODEL_FLAGS,
    ROLE_CATALOG,
    WAN21_CLIP_TASKS,
    WAN22_TASKS,
    ModelRef,
    project_models,
)

if TYPE_CHECKING:
    from wantui.core.probe import ProbeResult
    from wantui.core.project import Project

__all__ = [
    "DEFAULT_TASK",
    "GiB",
    "HOST_OVERHEAD",
    "MODEL_FLAGS",
    "ROLE_CATALOG",
    "WAN21_CLIP_TASKS",
    "WAN22_TASKS",
    "ModelRef",
    "host_memory_findings",
    "inputs_findings",
    "model_findings",
    "preflight",
    "probe_paths",
    "project_models",
]

log = logging.getLogger(__name__)


# -- the whole preflight ----------------------------------------------------------------------


def inputs_findings(project: Project, steps: list[str] | None = None) -> list[Finding]:
    """The dataset and argument checks (owned by the inputs area), degrading gracefully;
    ``steps``: the steps about to run (default: the enabled ones)."""
    try:
        from wantui.core.args import check_project  # type: ignore[attr-defined]
    except ImportError:
        check_project = None
    if check_project is not None:
        return list(check_project(project, steps=steps))
    out: list[Finding] = []
    path = project.dataset_config_path()
    if path is not None:
        try:
            from wantui.core.dataset import check_dataset_config

            out.extend(check_dataset_config(path, project.cwd()))
        except ImportError:
            pass
    return out


def probe_paths(project: Project) -> list[str]:
    """Folders whose free space matters: the output folder and the cache folders."""
    paths: list[str] = []
    out_dir = project_view(project, "train").get("--output_dir")
    if out_dir:
        paths.append(out_dir)
    for d in cache_dirs(project):
        if str(d) not in paths:
            paths.append(str(d))
    return paths


def model_findings(project: Project, refs: list[ModelRef] | None = None) -> list[Finding]:
    refs = project_models(project) if refs is None else refs
    out: list[Finding] = []
    for ref in refs:
        out.extend(file_findings(ref))
    out.extend(dit_findings(project, refs))
    out.extend(clip_and_cache_findings(project, refs))
    return out


def preflight(
    project: Project,
    *,
    probe: ProbeResult | None = None,
    steps: list[str] | None = None,
    inputs: list[Finding] | None = None,
    reference: Reference | None = None,
) -> list[Finding]:
    """Every predictable failure of ``project``, ranked (root causes first); ``steps``:
    the steps about to run (default: the enabled ones). Every door runs this: ``check
    --project``, ``doctor``, the TUI, ``fix``, and ``check -- COMMAND`` (which passes the
    pasted commands' own ``inputs`` findings, see :func:`check_pasted`). Options are held
    against ``reference``: the project's musubi-tuner read from source when found
    (:mod:`wantui.core.args.checkout`), else the bundled catalog."""
    ref = reference if reference is not None else project_reference(project)
    with use_reference(ref):
        return _preflight(project, probe, steps, inputs, ref)


def _preflight(
    project: Project,
    probe: ProbeResult | None,
    steps: list[str] | None,
    inputs: list[Finding] | None,
    ref: Reference,
) -> list[Finding]:
    found = inputs_findings(project, steps) if inputs is None else list(inputs)
    used = {n: project_view(project, n) for n, s in project.steps.items() if s.enabled}
    found += reference_findings(ref, used)
    refs = project_models(project)
    mine = model_findings(project, refs)
    # data loss is predictable too: a caching step deletes caches no item maps to
    mine.extend(cache_loss_findings(project, steps))
    # v0.3.5 caches non-bucketing video datasets at their resolution: a full re-cache
    mine.extend(bucket_recache_findings(project, steps))
    if probe is not None:
        if probe.ok:
            from wantui.core.probe.runner import findings_from

            dit = next((r.info for r in refs if r.flag == "--dit"), None)
            checkout = str(project.resolve(project.musubi_dir)) if project.musubi_dir else None
            got, ok = findings_from(
                probe.data, probe.python, project=project, checkout=checkout, dit=dit
            )
            mine.extend(got)
            if ok:
                mine.extend(host_memory_findings(project, refs, probe.data))
        else:
            mine.extend(probe.findings)
    return sort_findings(merge_once(found, mine))


def merge_once(found: list[Finding], mine: list[Finding]) -> list[Finding]:
    """The argument checks' findings and the model/probe checks', each problem once: a
    check both areas make (a missing ``--vae``, ``--fp8_scaled`` without ``--fp8_base``)
    keeps the finding that is closer to the root cause (higher priority; the one with a
    fix on a tie)."""
    out = list(found)
    index = {}
    for i, f in enumerate(out):
        for k in _same_keys(f):
            index.setdefault(k, i)
    for f in mine:
        hit = next((index[k] for k in _same_keys(f) if k in index), None)
        if hit is None:
            index.update({k: len(out) for k in _same_keys(f)})
            out.append(f)
        elif (f.priority, bool(f.fixes)) > (out[hit].priority, bool(out[hit].fixes)):
            out[hit] = f
    return out


def _same_keys(f: Finding) -> list[tuple[object, ...]]:
    """What makes two findings the same problem: the catalog id plus what the first fix
    changes (whatever action expresses it), or the steps concerned when there is no fix;
    and the catalog id plus the step and flag a finding is about (a file check)."""
    keys: list[tuple[object, ...]] = []
    if not f.fixes:
        keys.append((f.catalog, f.steps))
    else:
        p = dict(f.fixes[0].params)
        step = str(p.get("step", ""))
        if step in ("latents", "te", "train", "launch") and isinstance(p.get("flag"), str):
            # `--mixed_prec` and `--mixed_precision` are the same option to argparse
            p["flag"] = read_args([], options_for(step)).canonical(p["flag"])
        keys.append(
            (f.catalog, *(str(p.get(k, "")) for k in ("step", "flag", "value", "name", "new_flag")))
        )
    cap = f.captures or {}
    if cap.get("flag") and cap.get("path"):
        keys.append((f.catalog, "file", cap.get("step", ""), cap["flag"]))
    return keys


def check_pasted(argv: list[str] | str, cwd: Path) -> list[Finding]:
    """``wantui check -- COMMAND``: the pasted commands' argument, script and dataset
    checks, then the same model-file, cross-step and cache checks as a project, on the
    project ``wantui import`` would make of them (kept in memory)."""

    return check_pasted_with_reference(argv, cwd)[0]


def check_pasted_with_reference(
    argv: list[str] | str, cwd: Path
) -> tuple[list[Finding], Reference]:
    """:func:`check_pasted` and the musubi-tuner reference it checked against."""
    from wantui.core.args.command import check_commands, cross_checks
    from wantui.core.args.parse import parse_commands
    from wantui.core.args.to_project import project_from_commands

    commands = parse_commands(argv, cwd)
    project, _ = project_from_commands(commands, Path(cwd))
    ref = project_reference(project)
    with use_reference(ref):
        inputs = check_commands(commands)
        if not project.steps:
            return inputs, ref
        if len(project.steps) > 1:
            inputs += cross_checks(project)
    return preflight(project, inputs=inputs, reference=ref), ref
