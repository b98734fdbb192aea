"""``wantui import [--project DIR] [--step STEP] -- COMMAND...``: a pasted command becomes a step.

The command is parsed like ``wantui check -- COMMAND`` does; its script, launcher,
accelerate flags, environment and arguments go into ``[steps.<step>]`` of wantui.toml
(created if missing; an existing file keeps its comments). ``--dataset_config`` moves to
``[project]`` when the project has none yet. The file is written atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from wantui.core.errors import ExitCode, WantuiError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project", metavar="DIR", help="the project folder (default: the current folder)"
    )
    parser.add_argument(
        "--step", choices=("latents", "te", "train"), help="the step (default: from the script)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the new wantui.toml instead of writing it"
    )
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- COMMAND...", help="the command line"
    )


def run(args: argparse.Namespace) -> int:
    from wantui.core.args.catalog import STEP_SCRIPTS
    from wantui.core.args.parse import parse_commands
    from wantui.core.args.to_project import add_command
    from wantui.core.fsutil import atomic_write, match_newlines
    from wantui.core.project import PROJECT_FILE, Project, load_project, project_to_toml

    command = list(args.command or [])
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise WantuiError(
            "give the command to import after --, e.g. wantui import -- python wan_cache_latents.py ..."
        )
    from wantui.cli.check import project_arg

    root = Path(project_arg(args.project)).resolve()
    if root.name == PROJECT_FILE:
        root = root.parent
    if not root.is_dir():
        raise WantuiError("project folder not found", path=root)
    cwd = Path.cwd()
    commands = parse_commands(command, cwd)
    if args.step and len(commands) > 1:
        raise WantuiError("--step works with one command; this text has several")
    for parsed in commands:  # refuse before writing anything
        step_name = args.step or parsed.step
        if step_name is None:
            raise WantuiError(
                f"cannot tell which step `{parsed.script_name}` is; pass --step latents|te|train"
            )
        if parsed.other_arch and not args.step:
            raise WantuiError(
                f"`{parsed.script_name}` is not a Wan script (use {STEP_SCRIPTS[step_name]});"
                " pass --step to import it anyway"
            )
    file = root / PROJECT_FILE
    real = Path(os.path.realpath(file))
    if file.is_symlink() and not real.is_relative_to(Path(os.path.realpath(root))):
        # a cloned folder's wantui.toml linked to a file of yours elsewhere: not ours
        raise WantuiError(f"is a symlink to {real}, outside the project folder", path=file)
    existing: str | None = None
    bom = ""
    if file.exists() or file.is_symlink():
        project = load_project(root)  # refuses a FIFO, a folder, bad TOML...: one line
        raw_before: bytes | None = file.read_bytes()
        existing = raw_before.decode("utf-8")
        if existing.startswith("\ufeff"):  # Notepad's BOM: kept, but tomlkit must not see it
            bom, existing = "\ufeff", existing[1:]
    else:
        raw_before = None
        project = Project(root=root, name=root.name or "wan-lora")
    notes: list[str] = []
    imported: list[str] = []
    for parsed in commands:
        step_name = args.step or parsed.step
        add_command(project, parsed, step_name, root, cwd, notes)
        imported.append(step_name)
    text = bom + project_to_toml(project, base=existing)
    if existing is not None:
        text = match_newlines(text, existing)
    if args.dry_run:
        sys.stdout.write(text)
        return ExitCode.OK
    from wantui.core.fixes.journal import fix_lock

    # the same lock as `wantui fix --apply`: neither may overwrite the other's edit
    with fix_lock(root):
        now = file.read_bytes() if file.is_file() else None
        if now != raw_before:
            raise WantuiError("changed while importing (another wantui?); run it again", path=file)
        atomic_write(file, text.encode("utf-8"), backup=existing is not None, project_root=root)
    plural = "s" if len(imported) > 1 else ""
    print(f"imported the {', '.join(imported)} step{plural} into {file}")
    for note in notes:
        print(f"note: {note}")
    return ExitCode.OK
