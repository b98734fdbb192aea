"""Files a step names (models, prompts, --config_file, the script itself) and required options."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from wantui.core.args.catalog import (
    STEP_SCRIPTS,
)
from wantui.core.args.options import apply_config, config_path, read_config, step_options
from wantui.core.args.parse import ParsedCommand
from wantui.core.args.state import ArgState, StepFindings
from wantui.core.finding import Finding, Location
from wantui.core.fixactions import FixAction
from wantui.core.pathtext import clean_path, describe, invisible_characters
from wantui.core.textenc import file_encoding

PATH_FLAGS = {
    "--dit": "dit-wrong-file",
    "--dit_high_noise": "dit-wrong-file",
    "--vae": "vae-wrong-file",
    "--t5": "wrong-t5-encoder",
    "--clip": "wrong-clip-model",
    "--network_weights": "unknown-argument",
    "--sample_prompts": "missing-required-argument",
}


def _resolve(cwd: Path, p: str) -> Path:
    path = Path(os.path.expanduser(p))
    return path if path.is_absolute() else cwd / path


def foreign_windows_path(value: str) -> bool:
    """A drive-letter or UNC path seen on a POSIX machine (a pasted Windows command)."""
    return os.name != "nt" and bool(re.match(r"^(?:[A-Za-z]:[\\/]|\\\\)", value))


def _model_info(path: Path) -> Any:
    """The files-and-machine inspector, or None when the file is not there."""
    if not path.is_file():
        return None
    from wantui.core.models import inspect_file  # headless: reads headers only

    try:
        return inspect_file(path)
    except Exception:  # inspection is a bonus for these checks, never a reason to fail them
        return None


def check_required(state: ArgState, out: StepFindings) -> None:
    opts = step_options(state.step)
    missing = sorted({s.name for s in opts.values() if s.required and not state.has(s.name)})
    if missing:
        out.emit(
            "missing-required-argument",
            captures={"flags": " ".join(missing)},
            text={
                "missing": ", ".join(missing),
                "how": "stops with",
                "error": f"the following arguments are required: {', '.join(missing)}",
            },
        )
    practical = {"latents": {"--vae": "AssertionError: vae checkpoint is required"},
                 "train": {"--dit": "ValueError: path to DiT model is required",
                           "--dataset_config": "ValueError: dataset_config is required"}}  # fmt: skip
    for flag, error in practical.get(state.step, {}).items():
        if not state.has(flag):
            out.emit(
                "missing-required-argument",
                captures={"flags": flag},
                text={
                    "missing": flag,
                    "how": "allows it, but musubi-tuner then stops with",
                    "error": error,
                },
            )


def check_invisible(state: ArgState, out: StepFindings) -> None:
    """Values with characters nobody sees (U+202A from Windows' "Copy as path", zero-width
    spaces, a BOM): the file system takes them literally, so the path does not exist."""
    for flag, value in state.values.items():
        for v in value if isinstance(value, list) else [value]:
            if not isinstance(v, str) or not invisible_characters(v):
                continue
            cleaned = clean_path(v)
            out.emit(
                "path-invisible-character",
                captures={"flag": flag, "value": v, "cleaned": cleaned},
                text={
                    "subject": f"{flag}: the value",
                    "name": flag,
                    "chars": describe(v),
                    "taker": "the file system",
                    "opened": "what musubi-tuner opens",
                },
                fixes=[
                    FixAction(
                        "flag_set",
                        {"step": out.step, "flag": flag, "value": cleaned},
                        label=f"Set {flag} to the cleaned path {cleaned}",
                    )
                ],
                priority=90,
            )


def check_files(state: ArgState, cwd: Path, out: StepFindings) -> dict[str, Any]:
    """Model and prompt files named by the arguments must exist; returns model infos."""
    infos: dict[str, Any] = {}
    for flag, catalog in PATH_FLAGS.items():
        value = state.get(flag)
        if value is None:
            continue
        if foreign_windows_path(value):
            continue  # C:\... cannot be checked from a POSIX machine
        path = _resolve(cwd, value)
        if not path.exists():
            from wantui.core.models import eaten_backslashes

            eaten = eaten_backslashes(value)
            out.emit(
                "file-not-found",
                catalog=catalog,
                captures={"flag": flag, "path": str(path)},
                text={
                    "value": value,
                    "cwd": cwd,
                    "guess": " (a Windows path without its backslashes?)" if eaten else None,
                    "eaten": f" {eaten}" if eaten else None,
                },
            )
        elif path.is_dir() and flag != "--network_weights":
            out.emit(
                "file-is-directory",
                catalog=catalog,
                captures={"flag": flag, "path": str(path)},
                text={"value": value},
            )
        elif flag in ("--dit", "--dit_high_noise"):
            infos[flag] = _model_info(path)
        elif flag == "--sample_prompts" and path.is_file():
            enc = file_encoding(path)  # musubi reads it with encoding="utf-8"
            if enc is not None:
                out.emit(
                    "prompt-file-not-utf8",
                    captures={"flag": flag, "path": str(path), "encoding": enc},
                    text={"value": value},
                )
    return infos


def merge_config_file(state: ArgState, cwd: Path, out: StepFindings) -> None:
    """``--config_file``: its values (tables flattened) fill the options not given on the
    command line, as musubi-tuner's ``read_config_from_file`` does (values are not
    type-checked there, so a float ``timestep_boundary`` works in the file)."""
    value = state.get("--config_file") or ""
    if foreign_windows_path(value):
        return
    path = config_path(value, cwd)
    try:
        data = read_config(path)
    except FileNotFoundError:
        out.emit("config-file-not-found", captures={"path": str(path)})
        return
    except Exception as exc:  # unreadable or not TOML: musubi-tuner fails the same way
        out.emit("config-file-invalid", captures={"path": str(path)}, text={"error": exc})
        return
    apply_config(state, data, step_options(state.step))


def script_findings(
    parsed: ParsedCommand, cwd: Path, *, location: Location | None = None
) -> list[Finding]:
    """Is it a Wan script, and is it there?"""
    out = StepFindings(parsed.step or "any", location)
    if parsed.other_arch:
        wan = STEP_SCRIPTS.get(parsed.step or "", "the wan_* script")
        out.emit(
            "wrong-architecture-script", captures={"script": parsed.script_name, "wan_script": wan}
        )
    elif parsed.step is None:
        out.emit(
            "unknown-script",
            text={"script": parsed.script_name, "scripts": ", ".join(STEP_SCRIPTS.values())},
        )
    if not parsed.module:
        path = _resolve(
            cwd,
            parsed.script.replace("\\", "/")
            if not parsed.windows or os.name != "nt"
            else parsed.script,
        )
        if foreign_windows_path(parsed.script):
            pass  # a Windows absolute path cannot be checked from here
        elif not path.is_file():
            out.emit("script-not-found", captures={"script": parsed.script, "path": str(path)})
    return out.findings
