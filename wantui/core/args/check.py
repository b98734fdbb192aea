"""Check one step's arguments the way argparse and musubi-tuner will, before anything runs.

argparse stops at the first error and musubi-tuner finds many problems only after a
model load (attention flag, optimizer, network module) or at the very end (output name).
This reports every problem at once, as Findings with typed flag fixes. The checks live in
``check_syntax`` (argparse), ``check_files`` (paths), ``check_train`` and ``check_wan``;
this module runs them in order for one step.
"""

from __future__ import annotations

from pathlib import Path

from wantui.core.args.catalog import accelerate_options
from wantui.core.args.check_files import (
    PATH_FLAGS,
    check_files,
    check_invisible,
    check_required,
    foreign_windows_path,
    merge_config_file,
    script_findings,
)
from wantui.core.args.check_inputs import check_inputs
from wantui.core.args.check_syntax import scan_args
from wantui.core.args.check_train import check_train
from wantui.core.args.check_values import check_values
from wantui.core.args.state import ArgState, StepFindings
from wantui.core.finding import Finding, Location

__all__ = [
    "PATH_FLAGS",
    "ArgState",
    "StepFindings",
    "check_caching",
    "check_files",
    "check_required",
    "check_step_args",
    "check_train",
    "foreign_windows_path",
    "merge_config_file",
    "scan_args",
    "script_findings",
]


def check_caching(state: ArgState, out: StepFindings) -> None:
    if state.step == "latents" and state.has("--one_frame") and not state.get("--clip"):
        out.emit("one-frame-without-clip")


def check_step_args(
    step: str,
    args: list[str],
    *,
    cwd: Path,
    launch_args: list[str] | None = None,
    location: Location | None = None,
    windows: bool = False,
    check_paths: bool = True,
) -> tuple[ArgState, list[Finding]]:
    """All argument checks of one step (latents, te, train)."""
    out = StepFindings(step, location)
    state = scan_args(step, args, out)
    if launch_args:
        scan_args(step, launch_args, out, opts=accelerate_options(), fix_step="launch")
    if step == "train" and state.get("--config_file"):
        merge_config_file(state, cwd, out)
    check_required(state, out)
    check_invisible(state, out)
    check_values(state, out)
    infos = check_files(state, cwd, out) if check_paths else {}
    if check_paths:
        check_inputs(state, cwd, out)
    if step == "train":
        check_train(state, out, launch_args=launch_args or [], infos=infos, windows=windows)
    else:
        check_caching(state, out)
    return state, out.findings
