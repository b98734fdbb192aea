"""``wantui`` / ``wantui tui``: open the terminal app in a project folder.

No wantui.toml: the guided setup. A project: the pipeline screen, attached to the latest
run (live or finished); a run another wantui started is shown read-only."""

from __future__ import annotations

import argparse
from pathlib import Path

from wantui.cli.argtypes import require_terminal
from wantui.core.errors import ExitCode
from wantui.core.project import PROJECT_FILE, load_project


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "folder", nargs="?", default=".", help="the project folder (default: the current folder)"
    )
    p.add_argument(
        "--setup", action="store_true", help="run the guided setup even if wantui.toml exists"
    )


def build_app(folder: Path, *, setup: bool = False):  # noqa: ANN201 - a WantuiApp
    from wantui.core import supervisor as sup
    from wantui.tui.app import WantuiApp
    from wantui.tui.sources import LiveSource

    folder = folder.resolve()
    if setup or not (folder / PROJECT_FILE).is_file():
        return WantuiApp(start="setup", cwd=folder)
    project = load_project(folder)
    source = LiveSource(project)
    read_only = False
    title = project.name
    latest = sup.latest_run(project)
    if latest is not None and latest.run_dir is not None:
        source.run_dir = latest.run_dir
        status = sup.effective_status(latest)
        live = status in ("starting", "running", "stopping")
        read_only = live  # somebody else's run: watch it, stop it, but change nothing
        title = f"{project.name} · run {latest.run_id} ({status})"
    app = WantuiApp(
        project=project,
        source=source,
        title=title,
        read_only=read_only,
        watch_dir=output_dir(project),
    )
    return app


def output_dir(project: object) -> Path | None:
    """The training step's --output_dir, where checkpoints appear (watched with watchfiles)."""
    from wantui.core.outputs import output_dir as train_output_dir

    return train_output_dir(project)


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        from wantui.core.errors import WantuiError

        raise WantuiError("not a folder", path=folder)
    app = build_app(folder, setup=args.setup)
    require_terminal()
    app.run()
    return int(app.return_code or ExitCode.OK)
