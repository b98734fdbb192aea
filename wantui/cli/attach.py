"""``wantui attach [RUN_ID]``: follow a running or finished run (the latest by default).

Read-only: it never takes the project lock, so it is always allowed, from as many
terminals as you like. The output and live findings are those of ``wantui run``.

Exit codes: 0 the run succeeded, 1 it failed, was stopped or was lost, 2 usage / no such
run, 130 interrupted (the run goes on).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wantui.cli.render import write_json
from wantui.cli.run_cmd import follow_and_report
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.outputs import lora_path
from wantui.core.project import load_project
from wantui.core.supervisor import effective_status, find_run, list_runs, read_record


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_id",
        nargs="?",
        metavar="RUN_ID",
        help="a run id (or its unique start), or a run folder",
    )
    parser.add_argument(
        "--project",
        metavar="DIR",
        default=".",
        help="the project folder (default: the current folder)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object at the end (logs are not echoed)"
    )
    parser.add_argument("--from-now", action="store_true", help="skip the output written so far")
    parser.add_argument(
        "--list", action="store_true", help="list the project's runs (oldest first) and exit"
    )


def list_project_runs(project_dir: str, json_mode: bool) -> int:
    problems: list[str] = []
    runs = list_runs(load_project(project_dir), problems)
    for problem in problems:
        print(f"wantui: warning: skipped {problem}", file=sys.stderr)
    if json_mode:
        rows = [
            {"run_id": r.run_id, "status": effective_status(r), "run_dir": str(r.run_dir)}
            for r in runs
        ]
        write_json({"runs": rows})
        return ExitCode.OK
    for r in runs:
        steps = " ".join(f"{s.name}:{s.state}" for s in r.steps)
        print(f"{r.run_id}  {effective_status(r):9}  {steps}")
    if not runs:
        print("wantui: no runs yet in this project", file=sys.stderr)
    return ExitCode.OK


def run(args: argparse.Namespace) -> int:
    if args.list:
        return list_project_runs(args.project, args.json)
    given = Path(args.run_id) if args.run_id else None
    dataset = None
    lora = None
    if given is not None and (given / "run.json").exists():
        rec = read_record(given)  # a run folder named directly
    else:
        try:
            project = load_project(args.project)
        except WantuiError:
            if args.run_id is None:
                raise
            raise WantuiError(f"no such run folder and no project here: {args.run_id}") from None
        rec = find_run(project, args.run_id)
        dataset = str(project.dataset_config_path()) if project.dataset_config else None
        lora = lora_path(project)
    assert rec.run_dir is not None
    return follow_and_report(
        rec.run_dir,
        json_mode=args.json,
        dataset_config=dataset,
        from_start=not args.from_now,
        lora=lora,
    )
