"""``wantui export --sh FILE | --bat FILE``: the pipeline as a runnable script."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from wantui.core.errors import ExitCode, WantuiError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        metavar="DIR",
        help="the project folder or its wantui.toml (default: the current folder)",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--sh", metavar="FILE", help="write a bash script (- for stdout)")
    group.add_argument("--bat", metavar="FILE", help="write a Windows .bat file (- for stdout)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def run(args: argparse.Namespace) -> int:
    from wantui.cli.check import project_arg
    from wantui.core.export import export_bat, export_sh
    from wantui.core.fsutil import atomic_write
    from wantui.core.project import load_project

    project = load_project(project_arg(args.project))
    if not project.steps:
        raise WantuiError("the project has no steps to export", path=project.file)
    text = export_sh(project) if args.sh else export_bat(project)
    target = args.sh or args.bat
    if target == "-":
        sys.stdout.write(text.replace("\r\n", "\n") if sys.stdout.isatty() else text)
        return ExitCode.OK
    path = Path(target)
    if path.is_dir():
        raise WantuiError("is a directory", path=path)
    if path.exists() and not args.force:
        raise WantuiError("exists; use --force to overwrite it", path=path)
    atomic_write(path, text.encode("utf-8"), backup=path.exists())
    if args.sh:
        mode = path.stat().st_mode
        os.chmod(path, mode | 0o111 & ~_umask())
    print(f"wrote {path}")
    return ExitCode.OK


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
