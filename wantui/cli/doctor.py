"""``wantui doctor [--project DIR] [--python PY] [--json]``: preflight the project.

Runs the environment probe with the pipeline's interpreter, inspects the model files
the steps name, runs the dataset and argument checks, and prints the findings with the
shared renderer, after a short summary of the machine. Without a project file it checks
the machine only. Exit codes: 0 nothing at error severity, 1 error findings, 2 bad usage
or an unreadable project file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from wantui.cli.argtypes import add_probe_timeout
from wantui.core.errors import WantuiError
from wantui.core.finding import exit_code_for, sort_findings
from wantui.core.project import PROJECT_FILE, Project, load_project
from wantui.core.textsafe import SafeWriter, printable

GiB = 1024**3


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project", metavar="DIR", help="the project folder (default: the current folder)"
    )
    parser.add_argument(
        "--python",
        metavar="PY",
        help="the pipeline's interpreter (default: [project] python, else wantui's own)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (docs/json.md)")
    parser.add_argument("--no-probe", action="store_true", help="skip the environment probe")
    parser.add_argument(
        "--fast", action="store_true", help="probe without optional imports and GPU tests"
    )
    add_probe_timeout(parser)


def probe_summary(data: dict[str, Any]) -> list[str]:
    """A few lines on the pipeline's Python and machine."""
    if not data:
        return []
    py = data.get("python") or {}
    torch = data.get("torch") or {}
    lines = [f"python   {py.get('version')}  {py.get('executable')}"]
    if torch.get("installed") and not torch.get("error"):
        build = f"CUDA {torch['cuda_build']}" if torch.get("cuda_build") else "CPU build"
        lines.append(
            f"torch    {torch.get('version')} ({build}), cuda available: {torch.get('cuda_available')}"
        )
    else:
        lines.append(f"torch    not importable: {torch.get('error', 'not installed')}")
    if not (torch.get("installed") and torch.get("cuda_available")) or _arch_missing(torch):
        from wantui.core.probe.wheels import wheel_for

        wheel = wheel_for(data)  # the same advice as the findings below
        lines.append(f"wheel    {wheel.index_url}  ({wheel.why})")
    for g in torch.get("gpus") or []:
        free = f", {g['free_bytes'] / GiB:.1f} GiB free" if g.get("free_bytes") is not None else ""
        lines.append(
            f"gpu {g.get('index')}    {g.get('name')}: {g.get('total_bytes', 0) / GiB:.1f} GiB{free},"
            f" sm {g.get('capability')}, bf16 {g.get('bf16')}"
        )
    att = data.get("attention") or {}
    ok = [k for k, v in att.items() if v.get("importable")]
    bnb = data.get("bitsandbytes") or {}
    # importable is None under --fast: installed, but not imported to save seconds
    bnb_state = {True: "yes", False: "no", None: "installed (not imported: --fast)"}.get(
        bnb.get("importable"), "no"
    )
    if bnb.get("importable") is None and not bnb.get("version"):
        bnb_state = "no"
    lines.append(
        f"libs     bitsandbytes {bnb_state}"
        + (f" (cuda ok: {bnb.get('cuda_ok')})" if bnb.get("importable") else "")
        + f", attention: {', '.join(ok) or 'sdpa only'}"
        + f", accelerate {(data.get('versions') or {}).get('accelerate')}"
    )
    mus = data.get("musubi") or {}
    if mus.get("found"):
        lines.append(
            f"musubi   {mus.get('location')}"
            + (" (editable)" if mus.get("editable") else "")
            + ("" if mus.get("matches_checkout") in (None, True) else " — not the checkout")
        )
    else:
        lines.append("musubi   not installed in this interpreter")
    shm = data.get("shm") or {}
    if shm.get("total_bytes") is not None:
        lines.append(f"shm      /dev/shm {shm['total_bytes'] / GiB:.1f} GiB")
    for d in data.get("disk") or []:
        if d.get("free_bytes") is not None:
            lines.append(f"disk     {d.get('path')}: {d['free_bytes'] / GiB:.1f} GiB free")
    lines.append(f"probe    {data.get('elapsed_s')} s")
    return lines


def _arch_missing(torch: dict[str, Any]) -> bool:
    from wantui.core.probe.check_gpu import arch_supported

    arch = [str(a) for a in torch.get("arch_list") or []]
    return bool(arch) and any(
        arch_supported(str(g.get("capability") or ""), arch) is False
        for g in torch.get("gpus") or []
    )


def _project_python(project: Project | None) -> str | None:
    return project.python_path() if project is not None and project.python else None


def _fallback(python: str, project: Project | None, checkout: Path | None, data: dict):  # noqa: ANN202
    """The finding that says wantui's own interpreter was probed, with the candidates."""
    from wantui.core.probe.which_python import fallback_finding

    if checkout is None:  # machine-only: the checkout the guided setup would find
        from wantui.core.setup_defaults import find_musubi_checkouts

        found = find_musubi_checkouts(project.root if project else Path.cwd())
        checkout = found[0] if found else None
    musubi = (data.get("musubi") or {}).get("found") if data else None
    return fallback_finding(
        python,
        checkout=checkout,
        project_file=project.file if project else None,
        musubi_found=musubi if isinstance(musubi, bool) else None,
    )


def project_python_refusal(project: Project | None, python: str) -> str:
    """Why doctor and plan do not start ``[project] python`` (the folder is not trusted
    with it), with what to do; empty when they may."""
    from wantui.core.rules import trust

    if project is None:
        return ""
    why = trust.python_refusal(project.root, python)
    if not why:
        return ""
    return (
        f"not probing {python}, the [project] python of {project.file}: {why}."
        f" Read {PROJECT_FILE}, then `wantui rules trust {project.root}` to let wantui start"
        " it (doctor and plan), or name an interpreter with --python"
    )


def _load(args: argparse.Namespace) -> Project | None:
    try:
        root = Path(args.project) if args.project else Path.cwd()
    except FileNotFoundError:
        # the shell sits in a folder that was deleted (rm -rf of the run folder over SSH)
        raise WantuiError(
            "the current folder no longer exists; cd to the project folder (or give --project)"
        ) from None
    if args.project is None and not (root / PROJECT_FILE).exists():
        return None  # machine-only doctor
    return load_project(root)


def run(args: argparse.Namespace) -> int:
    # a path in Japanese on a terminal set to ASCII (PYTHONIOENCODING=ascii, an old SSH
    # locale) must print escaped, not end in UnicodeEncodeError
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    from wantui.core.preflight import preflight, probe_paths, project_models
    from wantui.core.probe import run_probe
    from wantui.core.probe.which_python import FALLBACK, choose_python

    # before anything runs: "nan" and "inf" parse as floats, and a nan deadline never comes
    if not (0 < args.probe_timeout <= 3600):
        raise WantuiError("--probe-timeout must be a number of seconds between 0 and 3600")
    project = _load(args)
    probe = None
    python_from: str | None = None  # where the probed interpreter came from
    checkout: Path | None = None
    refused = ""
    if not args.no_probe:
        python, python_from = choose_python(
            args.python, project.python if project else None, _project_python(project)
        )
        refused = project_python_refusal(project, python) if python_from == "project" else ""
    if refused:
        # a wantui.toml is the folder's, not the user's: its interpreter is a program of
        # the folder's choosing (docs/security.md, "What runs code")
        print(printable(f"wantui: {refused}"), file=sys.stderr)
    elif not args.no_probe:
        checkout = project.resolve(project.musubi_dir) if project and project.musubi_dir else None
        from wantui.cli.progress_line import ProgressLine

        with ProgressLine(f"wantui: probing {python} (up to {args.probe_timeout:g} s) ..."):
            probe = run_probe(
                python,
                timeout=args.probe_timeout,
                cwd=project.root if project else None,
                checkout=checkout,
                paths=probe_paths(project) if project else (),
                fast=args.fast,
                project=project,
            )
        if project is not None and python == project.python_path():
            from wantui.core.probe.cache import save_probe

            # `wantui run` and the app's Run check against it without probing again
            save_probe(project.root, probe, str(checkout) if checkout else None)
    ref = None
    if project is not None:
        from wantui.core.args.checkout import project_reference

        ref = project_reference(project)
        findings = preflight(project, probe=probe, reference=ref)
        models = [
            {"step": r.step, "flag": r.flag, **r.info.to_json()} for r in project_models(project)
        ]
        source: str | None = str(project.file)
    else:
        findings = sort_findings(list(probe.findings)) if probe else []
        models = []
        source = None
    if probe is not None and python_from == FALLBACK:
        findings = sort_findings([_fallback(python, project, checkout, probe.data), *findings])
    from wantui.cli.render import render_findings

    try:
        summary = probe_summary(probe.data) if probe else []
        if probe is not None and python_from == FALLBACK and summary:
            summary[0] += "  (wantui's own: no pipeline Python is configured)"
    except Exception:  # an odd report: its findings already say so; the summary is extra
        summary = ["probe    (a report of an unexpected shape)"]
    plan = _plan(project, probe.data if probe else None)
    if args.json:
        extra: dict[str, Any] = {"probe": probe.to_json() if probe else None, "models": models}
        if probe is not None:
            extra["probe"]["python_from"] = python_from
        extra["plan"] = plan.to_json() if plan is not None else None
        if ref is not None:
            extra["musubi"] = ref.to_json()
        render_findings(findings, stream=sys.stdout, json_mode=True, source=source, extra=extra)
    else:
        out = SafeWriter(sys.stdout)  # model paths and probe text are outside strings
        if project is None:
            out.write(f"(no {PROJECT_FILE} here: checking the machine only)\n")
        for line in summary:
            out.write(line + "\n")
        if ref is not None:
            out.write(f"options  checked against {ref.describe()}\n")
        for m in models:
            out.write(
                f"model    {m['flag']} {m['path']}: {m['kind']}"
                + (
                    f" {m['details'].get('params')} {m['details'].get('family')}"
                    if m["kind"] == "wan-dit"
                    else ""
                )
                + (f" {m['dtype']}" if m.get("dtype") else "")
                + "\n"
            )
        for line in plan_lines(plan):
            out.write(line + "\n")
        if summary or models or plan is not None:
            out.write("\n")
        render_findings(findings, stream=sys.stdout, json_mode=False, source=source)
    return exit_code_for(findings)


def _plan(project: Project | None, data: dict[str, Any] | None) -> Any:
    from wantui.core.plan.summary import plan_for_project

    return plan_for_project(project, data)


def plan_lines(plan: Any) -> list[str]:
    """One line for the training step's plan (the details: `wantui plan`)."""
    from wantui.core.plan.summary import train_verdict

    text = train_verdict(plan)
    return [f"plan     {text} (wantui plan)"] if text else []
