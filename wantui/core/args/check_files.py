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
from wantui.core.finding import Finding, Location, Severity
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
        out.add(
            "missing-required-argument",
            "missing-required-argument",
            Severity.ERROR,
            f"Missing {', '.join(missing)}",
            f"argparse stops with `the following arguments are required: {', '.join(missing)}`.",
            captures={"flags": " ".join(missing)},
            priority=80,
        )
    practical = {"latents": {"--vae": "AssertionError: vae checkpoint is required"},
                 "train": {"--dit": "ValueError: path to DiT model is required",
                           "--dataset_config": "ValueError: dataset_config is required"}}  # fmt: skip
    for flag, error in practical.get(state.step, {}).items():
        if not state.has(flag):
            out.add(
                "missing-required-argument",
                "missing-required-argument",
                Severity.ERROR,
                f"Missing {flag}",
                f"argparse allows it, but musubi-tuner then stops with `{error}`.",
                captures={"flags": flag},
                priority=80,
            )


def check_invisible(state: ArgState, out: StepFindings) -> None:
    """Values with characters nobody sees (U+202A from Windows' "Copy as path", zero-width
    spaces, a BOM): the file system takes them literally, so the path does not exist."""
    for flag, value in state.values.items():
        for v in value if isinstance(value, list) else [value]:
            if not isinstance(v, str) or not invisible_characters(v):
                continue
            cleaned = clean_path(v)
            out.add(
                "path-invisible-character",
                "path-invisible-character",
                Severity.ERROR,
                f"{flag}: the value contains an invisible character",
                f"`{flag}` contains {describe(v)}; the file system takes it literally, so "
                f"`{cleaned}` (what it looks like) is not what musubi-tuner opens.",
                captures={"flag": flag, "value": v, "cleaned": cleaned},
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
            out.add(
                "file-not-found",
                catalog,
                Severity.ERROR,
                f"{flag}: file not found"
                + (" (a Windows path without its backslashes?)" if eaten else ""),
                f"`{value}` does not exist (resolved from {cwd} to `{path}`)."
                + (f" {eaten}" if eaten else ""),
                captures={"flag": flag, "path": str(path)},
                advice=["Quote Windows paths when pasting a command into bash."] if eaten else [],
                priority=75,
            )
        elif path.is_dir() and flag != "--network_weights":
            out.add(
                "file-is-directory",
                catalog,
                Severity.ERROR,
                f"{flag}: a folder, not a file",
                f"`{value}` is a folder; musubi-tuner needs the model file itself.",
                captures={"flag": flag, "path": str(path)},
                priority=75,
            )
        elif flag in ("--dit", "--dit_high_noise"):
            infos[flag] = _model_info(path)
        elif flag == "--sample_prompts" and path.is_file():
            enc = file_encoding(path)  # musubi reads it with encoding="utf-8"
            if enc is not None:
                out.add(
                    "prompt-file-not-utf8",
                    "file-encoding-error",
                    Severity.ERROR,
                    f"{flag}: the prompt file is not UTF-8 (looks like {enc})",
                    f"`{value}` is not UTF-8 (it decodes as {enc}); musubi-tuner reads it as "
                    "UTF-8 and stops with `UnicodeDecodeError` when sampling starts. Convert "
                    f"it (e.g. `iconv -f {enc} -t utf-8`) or save it as UTF-8.",
                    captures={"flag": flag, "path": str(path), "encoding": enc},
                    priority=75,
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
        out.add(
            "config-file-not-found",
            "missing-required-argument",
            Severity.ERROR,
            "--config_file not found",
            f"`{path}` does not exist; musubi-tuner logs `{path} not found.` and exits with status 1.",
            captures={"path": str(path)},
            priority=85,
        )
        return
    except Exception as exc:  # unreadable or not TOML: musubi-tuner fails the same way
        out.add(
            "config-file-invalid",
            "invalid-argument-value",
            Severity.ERROR,
            "--config_file cannot be read",
            f"`{path}`: {exc}",
            captures={"path": str(path)},
            priority=85,
        )
        return
    apply_config(state, data, step_options(state.step))


def script_findings(
    parsed: ParsedCommand, cwd: Path, *, location: Location | None = None
) -> list[Finding]:
    """Is it a Wan script, and is it there?"""
    out = StepFindings(parsed.step or "any", location)
    if parsed.other_arch:
        wan = STEP_SCRIPTS.get(parsed.step or "", "the wan_* script")
        out.add(
            "wrong-architecture-script",
            "wrong-architecture-script",
            Severity.ERROR,
            f"`{parsed.script_name}` is not a Wan script",
            f"It is for another architecture (HunyuanVideo, FramePack, ...); with Wan files it fails or trains the "
            f"wrong model. Use `{wan}`.",
            captures={"script": parsed.script_name, "wan_script": wan},
            priority=90,
        )
    elif parsed.step is None:
        out.add(
            "unknown-script",
            "wrong-architecture-script",
            Severity.WARNING,
            f"`{parsed.script_name}` is not one of the three Wan steps",
            f"wantui knows {', '.join(STEP_SCRIPTS.values())}; this command is not checked further.",
            priority=30,
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
            out.add(
                "script-not-found",
                "script-not-found",
                Severity.ERROR,
                f"Script not found: {parsed.script}",
                f"`{path}` does not exist; python would stop with `can't open file ... [Errno 2] No such file "
                "or directory`.",
                advice=["Run from the musubi-tuner checkout, or give the script's full path."],
                captures={"script": parsed.script, "path": str(path)},
                priority=90,
            )
    return out.findings
