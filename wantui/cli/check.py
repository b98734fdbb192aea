"""``wantui check``: the project, a dataset TOML alone, or one pasted command line.

    wantui check [--project DIR] [--steps latents,te,train] [--json]
    wantui check --dataset-config FILE [--json]
    wantui check [--json] -- COMMAND...

Exit codes as ``diagnose``: 0 nothing at error severity, 1 an error finding, 2 bad usage
or an unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wantui.cli.render import render_findings
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.finding import exit_code_for, sort_findings


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        metavar="DIR",
        help="the project folder or its wantui.toml (default: the current folder)",
    )
    parser.add_argument("--dataset-config", metavar="FILE", help="check this dataset TOML alone")
    parser.add_argument(
        "--steps",
        metavar="LIST",
        help="steps about to run, comma-separated (default: the enabled ones); cache files are "
        "counted when train runs without latents",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (docs/json.md)")
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND...",
        help="a musubi-tuner command line to check, relative to the current folder",
    )


def project_arg(value: str | None) -> str:
    """``--project``: a folder, or the wantui.toml in it. A dataset TOML given by mistake
    was read as a project file with no steps, and findings named a wantui.toml that did
    not exist."""
    if value is None:
        return "."
    p = Path(value)
    if p.name != "wantui.toml" and not p.is_dir() and (p.exists() or p.suffix):
        raise WantuiError(
            "--project takes the project folder (or its wantui.toml)"
            + ("; for a dataset TOML use --dataset-config" if p.suffix.lower() == ".toml" else ""),
            path=p,
        )
    return value


def _steps(value: str | None) -> list[str] | None:
    if value is None:
        return None
    steps = [s.strip() for s in value.split(",") if s.strip()]
    bad = [s for s in steps if s not in ("latents", "te", "train")]
    if bad:
        raise WantuiError(
            f"--steps: unknown step(s) {', '.join(bad)} (steps are latents, te, train)"
        )
    return steps


def run(args: argparse.Namespace) -> int:
    command = list(args.command or [])
    if command and command[0] == "--":
        command = command[1:]
    if command and (args.project or args.dataset_config):
        raise WantuiError("give either a command after --, or --project/--dataset-config, not both")
    ref = None
    if command:
        from wantui.core.preflight import check_pasted_with_reference

        findings, ref = check_pasted_with_reference(command, Path.cwd())
        source: str | list[str] = " ".join(command)
    elif args.dataset_config:
        from wantui.core.args.command import dataset_findings
        from wantui.core.dataset.load import read_config_text

        path = Path(args.dataset_config)
        read_config_text(path)  # unreadable (missing, folder, binary...): one line, exit 2
        if args.project:
            from wantui.core.project import load_project

            cwd = load_project(project_arg(args.project)).cwd()
        else:
            cwd = Path.cwd()
        findings = sort_findings(dataset_findings(path, cwd, scan_step=None))
        source = str(path)
    else:
        from wantui.core.args.checkout import project_reference
        from wantui.core.preflight import preflight
        from wantui.core.project import load_project

        project = load_project(project_arg(args.project))
        ref = project_reference(project)
        # the same checks as doctor --no-probe and the TUI: inputs, model files, caches
        findings = preflight(project, steps=_steps(args.steps), reference=ref)
        source = str(project.file)
    try:
        render_findings(
            findings,
            stream=sys.stdout,
            json_mode=args.json,
            source=source,
            extra={"musubi": ref.to_json()} if ref is not None else None,
            note=f"options checked against {ref.describe()}" if ref is not None else None,
        )
    except BrokenPipeError:
        raise
    return int(exit_code_for(findings)) if findings is not None else int(ExitCode.INTERNAL)
