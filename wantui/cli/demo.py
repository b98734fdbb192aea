"""``wantui demo``: replay a bundled failing Wan2.2 run (no GPU, no musubi-tuner needed).

The demo project is copied to a temporary folder, so its fix previews are real diffs and
applying a fix changes only that copy."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from wantui.cli.argtypes import positive_float, require_terminal
from wantui.core.project import load_project


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--speed",
        type=positive_float,
        default=1.0,
        help="replay speed factor, above 0 (default: 1.0)",
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the temporary demo project and print where it is"
    )


def demo_files(dest: Path) -> Path:
    """Copy the bundled demo (project, dataset TOML, run logs) into ``dest``; return it."""
    src = resources.files("wantui") / "data" / "demo"
    with resources.as_file(src) as folder:
        shutil.copytree(folder, dest, dirs_exist_ok=True)
    return dest


def demo_source(folder: Path, speed: float = 1.0, **kw: object):  # noqa: ANN201 - a ReplaySource
    from wantui.tui.sources import ReplaySource, replay_plan

    # a steady, watchable pace: the bundled logs carry no timestamps
    return ReplaySource(
        replay_plan(folder / "run"), speed=speed, tick_s=0.12, lines_per_tick=2, **kw
    )  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    from wantui.cli.replay import launch

    require_terminal()
    tmp = Path(tempfile.mkdtemp(prefix="wantui-demo-"))
    try:
        folder = demo_files(tmp / "wan22-demo")
        code = launch(
            demo_source(folder, args.speed),
            project=load_project(folder),
            title="demo: a failing Wan2.2 run",
        )
    finally:
        if args.keep:
            print(f"demo project kept in {tmp / 'wan22-demo'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return code
