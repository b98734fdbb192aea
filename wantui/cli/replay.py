"""``wantui replay LOG``: play a saved log (or a run folder) into the pipeline screen,
with the same findings and fix offers as a live run."""

from __future__ import annotations

import argparse
from pathlib import Path

from wantui.cli.argtypes import positive_float, require_terminal
from wantui.core.errors import ExitCode
from wantui.core.project import PROJECT_FILE, STEP_NAMES, load_project


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("log", help="a log file, or a run folder (runs/<id>/ with <step>.log files)")
    p.add_argument(
        "--step",
        choices=STEP_NAMES,
        default="train",
        help="the step a single log belongs to (default: train)",
    )
    p.add_argument(
        "--speed",
        type=positive_float,
        default=1.0,
        help="replay speed factor, above 0 (default: 1.0)",
    )
    p.add_argument(
        "--project",
        default=None,
        help="the project folder, for fix previews (default: the current folder, if it has wantui.toml)",
    )


def run(args: argparse.Namespace) -> int:
    from wantui.tui.sources import ReplaySource, replay_plan

    plan = replay_plan(args.log, args.step)
    project = None
    folder = Path(args.project) if args.project else Path.cwd()
    if args.project or (folder / PROJECT_FILE).is_file():
        project = load_project(folder)
    return launch(
        ReplaySource(plan, speed=args.speed), project=project, title=f"replay: {plan.label}"
    )


def launch(source: object, *, project: object, title: str) -> int:
    from wantui.tui.app import WantuiApp
    from wantui.tui.feed_process import ProcessFeed

    require_terminal()
    steps = tuple(s.step for s in source.plan.steps)  # type: ignore[attr-defined]
    # the replay is read, normalised and diagnosed in a child process; the app only draws
    feed = ProcessFeed(steps)
    app = WantuiApp(feed=feed, source=source, project=project, title=title, gpu=False)  # type: ignore[arg-type]
    app.run()
    return int(app.return_code or ExitCode.OK)
