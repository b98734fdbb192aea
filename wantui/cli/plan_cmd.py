"""``wantui plan``: will the training fit, how long will it take, what will it cost.

    wantui plan [--json] [--gpu-memory GIB] [--ram GIB] [--gpu NAME] [--price PER_HOUR]
                [--project DIR | -- COMMAND...]

Without --gpu-memory/--ram/--gpu it asks the probe (the pipeline's Python) for the GPU and
host memory. Exit codes: 0 the plan fits (or could not be judged), 1 a step does not fit
as configured, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from wantui.cli.argtypes import add_probe_timeout
from wantui.cli.render import write_json
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.textsafe import printable


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object (docs/json.md)")
    parser.add_argument("--gpu-memory", type=float, metavar="GIB", help="GPU memory in GiB")
    parser.add_argument("--ram", type=float, metavar="GIB", help="host RAM in GiB")
    parser.add_argument(
        "--gpu", metavar="NAME", help="GPU model for the speed estimate (e.g. 'RTX 4090', H100)"
    )
    parser.add_argument("--price", type=float, metavar="PER_HOUR", help="GPU price per hour")
    parser.add_argument(
        "--project", metavar="DIR", help="the project folder (default: the current folder)"
    )
    add_probe_timeout(parser)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="a musubi-tuner command line")


def _positive(value: float | None, flag: str, upper: float) -> float | None:
    if value is None:
        return None
    if not (math.isfinite(value) and 0 < value <= upper):
        raise WantuiError(f"{flag} must be a number above 0 and at most {upper:g}")
    return value


def machine_for(
    args: argparse.Namespace, python: str | None, cwd: Path | None, project: Any = None
) -> Any:
    """The machine to plan for: the options first, then the GPU table for --gpu, then the
    project's cached probe (`wantui doctor` keeps it), then a fresh probe."""
    from wantui.core.plan import Machine, machine_from_probe
    from wantui.core.plan.gpus import find_gpu, known_names
    from wantui.core.plan.memory import GiB

    gpu_mem = _positive(args.gpu_memory, "--gpu-memory", 4096)
    ram = _positive(args.ram, "--ram", 65536)
    gpu_class = None
    if args.gpu:
        gpu_class = find_gpu(args.gpu)
        if gpu_class is None:
            raise WantuiError(
                f"unknown GPU {args.gpu!r}; known: {', '.join(known_names())}"
                " (or give --gpu-memory)"
            )
    m = Machine(source="options")
    if gpu_class is not None:
        m.gpu_name, m.gpu_class = gpu_class.name, gpu_class
        m.gpu_bytes = gpu_class.memory_gib * GiB
        m.source = "gpu table"
    if gpu_mem is not None:
        m.gpu_bytes, m.source = gpu_mem * GiB, "options"
    if ram is not None:
        m.ram_bytes = ram * GiB
    m.windows = sys.platform == "win32"
    if m.gpu_bytes is None or (m.ram_bytes is None and gpu_mem is None):
        probe = None
        if project is not None:
            from wantui.core.probe.cache import load_probe

            checkout = project.resolve(project.musubi_dir) if project.musubi_dir else None
            probe, _ = load_probe(project.root, project.python_path(),
                                  checkout=str(checkout) if checkout else None)  # fmt: skip
        if probe is None:
            from wantui.cli.doctor import project_python_refusal
            from wantui.core.probe import run_probe

            refused = project_python_refusal(project, python) if python else ""
            if refused:  # the machine's facts are the same through wantui's own Python
                print(printable(f"wantui: {refused}; probing wantui's own"), file=sys.stderr)
                python = sys.executable
            probe = run_probe(python, timeout=args.probe_timeout, cwd=cwd, fast=True)
        found = machine_from_probe(probe.data)
        m.windows = found.windows or m.windows
        if m.gpu_bytes is None:
            m.gpu_bytes, m.gpu_name = found.gpu_bytes, found.gpu_name
            m.gpu_class = m.gpu_class or found.gpu_class
        if m.ram_bytes is None:
            m.ram_bytes = found.ram_bytes
        m.source = "probe" if m.source == "options" and gpu_mem is None else m.source + "+probe"
    return m


def run(args: argparse.Namespace) -> int:
    from wantui.core.plan import inputs_from_command, inputs_from_project, make_plan
    from wantui.core.project import load_project

    _positive(args.probe_timeout, "--probe-timeout", 3600)
    price = args.price
    if price is not None and not (math.isfinite(price) and price >= 0):
        raise WantuiError("--price must be a number of 0 or more")
    command = list(args.command or [])
    if command and command[0] == "--":
        command = command[1:]
    if command and args.project:
        raise WantuiError("give either a command after -- or --project, not both")
    project = None
    if command:
        cwd = Path.cwd()
        inputs = inputs_from_command(command, cwd)
        python, probe_cwd = None, cwd
    else:
        from wantui.cli.check import project_arg

        project = load_project(Path(project_arg(args.project)))
        inputs = inputs_from_project(project)
        python, probe_cwd = project.python_path(), project.root
    machine = machine_for(args, python, probe_cwd, project)
    plan = make_plan(inputs, machine, price=price)
    if args.json:
        write_json(plan.to_json())
    else:
        sys.stdout.write("\n".join(render_plan(plan)) + "\n")
    return ExitCode.FINDINGS if any(s.fits is False for s in plan.steps) else ExitCode.OK


def _num(v: float | None, unit: str = "", digits: int = 1) -> str:
    if v is None:
        return "?"
    if 0 < abs(v) < 1:
        return f"{v:.2g}{unit}"  # 0.35 s/step, not 0.3
    return f"{v:.{digits}f}{unit}"


def render_plan(plan: Any) -> list[str]:
    """The plan as a few lines per step (also used by doctor)."""
    m = plan.machine
    gpu = m.gpu_name or "GPU unknown"
    lines = [f"machine  {gpu}, {_num(m.to_json()['gpu_memory_gib'], ' GiB')} VRAM,"
             f" {_num(m.to_json()['ram_gib'], ' GiB')} RAM ({m.source})"]  # fmt: skip
    for s in plan.steps:
        verdict = {True: "fits", False: "DOES NOT FIT", None: "not judged"}[s.fits]
        lines.append(
            f"{s.step:<8} VRAM {_num(s.vram_peak_gib, ' GiB')}, RAM {_num(s.ram_peak_gib, ' GiB')}"
            f": {verdict}"
        )
        if s.step == "train":
            if s.min_blocks_to_swap is not None:
                lines.append(
                    f"         smallest --blocks_to_swap that fits: {s.min_blocks_to_swap}"
                )
            elif s.change:
                lines.append(f"         no block swap fits; first change that does: {s.change}")
            elif s.fits is not None:
                lines.append("         no block swap or listed change fits this GPU")
            if s.sec_per_step is not None:
                lo, hi = s.uncertainty.get("sec_per_step", [None, None])
                lines.append(
                    f"         {_num(s.sec_per_step)} s/step (between {_num(lo)} and {_num(hi)}),"
                    f" {s.total_steps if s.total_steps is not None else '?'} steps,"
                    f" {_num(s.hours, ' h')}"
                    + (f", cost {s.cost:.2f}" if s.cost is not None else "")
                )
        for a in s.assumptions:
            lines.append(f"         - {a}")
    for n in plan.notes:
        lines.append(f"note     {n}")
    return lines
