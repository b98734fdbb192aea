"""``wantui report [--log FILE]... [--project DIR] [-o FILE]``: a Markdown bundle for a
public issue (findings, traceback anatomy, commands, dataset TOML, versions, accelerate
config, model fingerprints, decisive log lines), at most 64 KB, secrets removed.

Exit codes: 0 written (or printed), 2 bad usage or an unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wantui.cli.check import project_arg
from wantui.core.errors import ExitCode, WantuiError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log", action="append", default=[], metavar="FILE", help="a log to include (repeatable)"
    )
    parser.add_argument(
        "--project",
        metavar="DIR",
        help="the project folder (default: the current folder, if it has wantui.toml)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the report here (default: stdout)"
    )


def run(args: argparse.Namespace) -> int:
    from wantui.core.project import PROJECT_FILE, load_project
    from wantui.core.redact import context_from_machine
    from wantui.core.report import build, gather, write_report
    from wantui.core.rules import load_rules

    logs = [Path(p) for p in args.log]
    for p in logs:
        if not p.is_file():
            raise WantuiError(
                "no such log file" if not p.exists() else "not a regular file", path=p
            )
    project = None
    if args.project is not None:
        project = load_project(project_arg(args.project))
    elif Path(PROJECT_FILE).is_file():
        project = load_project(".")
    if project is None and not logs:
        raise WantuiError("nothing to report: give --log FILE and/or --project DIR")
    if args.output:
        size = write_report(logs, project, Path(args.output))
        print(f"wantui: report written to {args.output} ({size} bytes)", file=sys.stderr)
        return ExitCode.OK
    env: dict[str, str] = {}
    if project is not None:
        for step in project.steps.values():
            env.update(step.env)
    inp = gather(logs, project, load_rules(include_user=False))
    sys.stdout.write(build(inp, context_from_machine(env)))
    return ExitCode.OK
