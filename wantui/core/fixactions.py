"""The closed set of fix actions, declared as data.

Rules and checks can only *name* one of these actions with parameters; they never run
code. The fix engine (``wantui.core.fixes``) turns a :class:`FixAction` into a plan
(a diff, an argv change, a download), applies it atomically and can undo it.

Parameters that name files never carry a path taken from log text: a TOML action names
its file by *role* (``dataset_config`` or ``project``), resolved by the engine against
the project's known inputs. That is what lets the engine refuse a fix that would write
outside the project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# action name -> (required params, optional params)
ACTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # Dataset TOML edits. ``table`` is "general", "datasets[N]" or "" (top level).
    "toml_remove_key": (frozenset({"file", "table", "key"}), frozenset()),
    "toml_rename_key": (frozenset({"file", "table", "key", "new_key"}), frozenset()),
    "toml_move_key": (frozenset({"file", "table", "key", "to_table"}), frozenset()),
    # ``value`` is a TOML/JSON literal as a string ("[17]", "30.0", '"head"') or a plain value.
    # ``also``: flag edits of wantui.toml that belong to the same repair (a flag whose
    # value lives in the dataset TOML: set the key *and* remove the flag), applied with
    # it as one fix (one preview, one undo: a journal group). A list of
    # {"action": "flag_remove" | "flag_replace", "params": {...}}.
    "toml_set_key": (frozenset({"file", "table", "key", "value"}), frozenset({"also"})),
    # Several of the four edits above on one file as one fix (one plan, one undo), for a
    # repair that is only right whole: set target_frames *and* remove num_frames.
    # ``edits`` is a list of {"action": "toml_...", <its params but file>}.
    "toml_edits": (frozenset({"file", "edits"}), frozenset()),
    # Every double-quoted string of the dataset TOML that holds a Windows path TOML reads
    # as escapes (``"C:\temp"``) rewritten with forward slashes, as text: it also repairs
    # a file that does not parse (``"D:\data"``), which tomlkit cannot edit.
    "toml_fix_windows_paths": (frozenset({"file"}), frozenset()),
    # Command-line edits of one pipeline step (latents, te, train, or launch for
    # accelerate's own flags).
    "flag_add": (frozenset({"step", "flag"}), frozenset({"value"})),
    "flag_remove": (frozenset({"step", "flag"}), frozenset()),
    # ``ceiling: true``: the value is an upper bound (fewer workers, fewer blocks): the fix
    # applies only when the step's value (or musubi-tuner's default) is above it, so it
    # never raises a value the user already lowered.
    "flag_set": (frozenset({"step", "flag", "value"}), frozenset({"ceiling"})),
    "flag_replace": (frozenset({"step", "flag", "new_flag"}), frozenset({"value"})),
    # Environment of the child process of a step ("all" for every step).
    "env_set": (frozenset({"step", "name", "value"}), frozenset()),
    # Download a catalog file (wantui.core.hub catalog name) and optionally point a
    # step's flag at it.
    "download": (frozenset({"name"}), frozenset({"step", "flag"})),
    # Run a pipeline step again (after another fix, or a missing caching step).
    "rerun_step": (frozenset({"step"}), frozenset()),
}

FILE_ROLES = frozenset({"dataset_config", "project"})

# Variables that make a process load or run code chosen by their value (a preloaded
# library, a Python startup file, a shell's startup file, an interpreter's options). A
# fix, a rule from a project folder or a cloned wantui.toml must never set them: set
# them in your own shell if you really need one.
DENIED_ENV_PREFIXES = ("LD_", "DYLD_", "PYTHON", "BASH_FUNC_", "PERL5", "GIT_")
DENIED_ENV_NAMES = frozenset(
    {
        "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "IFS",
        "PATH", "PATHEXT", "COMSPEC", "HOME", "GLIBC_TUNABLES", "GCONV_PATH", "LOCPATH",
        "PERLLIB", "RUBYOPT", "RUBYLIB", "NODE_OPTIONS", "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "PAGER", "EDITOR", "VISUAL", "BROWSER",
    }
)  # fmt: skip
# PYTHON* settings that only change buffering or text encoding load no code
ALLOWED_PYTHON_ENV = frozenset(
    {
        "PYTHONUNBUFFERED", "PYTHONUTF8", "PYTHONIOENCODING", "PYTHONHASHSEED",
        "PYTHONFAULTHANDLER", "PYTHONDONTWRITEBYTECODE", "PYTHONLEGACYWINDOWSSTDIO",
    }
)  # fmt: skip
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_name_problem(name: str) -> str | None:
    """Why ``name`` may not be set in a step's environment, or None when it may."""
    if not _ENV_NAME.fullmatch(name):
        return f"{name!r} is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
    upper = name.upper()  # Windows names are case-insensitive
    if upper in ALLOWED_PYTHON_ENV:
        return None
    if upper in DENIED_ENV_NAMES or upper.startswith(DENIED_ENV_PREFIXES):
        return (
            f"{name} makes programs load or run other code; wantui never sets it"
            " (LD_*, DYLD_*, PYTHON*, PATH, BASH_ENV and the like: set it in your shell)"
        )
    return None


KEY_EDITS = frozenset({"toml_remove_key", "toml_rename_key", "toml_move_key", "toml_set_key"})
STEPS = frozenset({"latents", "te", "train", "launch", "all"})


@dataclass(frozen=True)
class FixAction:
    """One typed fix: an action name from :data:`ACTIONS` and its parameters.

    ``label`` is the one-line human description ("Remove the key `num_frames`").
    ``auto`` is False for a fix that can only be shown, not applied (e.g. when a
    parameter could not be filled from the evidence).
    """

    action: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    auto: bool = True

    def __post_init__(self) -> None:
        problem = validate_action(self.action, self.params)
        if problem:
            raise ValueError(problem)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "params": dict(self.params),
            "label": self.label,
            "auto": self.auto,
        }


def validate_action(action: str, params: dict[str, Any], *, templated: bool = False) -> str | None:
    """Return a problem description, or None when ``action``/``params`` are well formed.

    With ``templated`` (rule loading), values may still contain ``{capture}`` placeholders
    and are not checked against the closed vocabularies.
    """
    if action not in ACTIONS:
        return f"unknown fix action '{action}' (known: {', '.join(sorted(ACTIONS))})"
    required, optional = ACTIONS[action]
    missing = sorted(required - params.keys())
    if missing:
        return f"fix action '{action}' is missing parameter(s): {', '.join(missing)}"
    unknown = sorted(params.keys() - required - optional)
    if unknown:
        return f"fix action '{action}' has unknown parameter(s): {', '.join(unknown)}"
    if not templated:
        if "file" in params and params["file"] not in FILE_ROLES:
            return f"fix action '{action}': file must be one of {sorted(FILE_ROLES)}, not {params['file']!r}"
        if "step" in params and params["step"] not in STEPS:
            return f"fix action '{action}': step must be one of {sorted(STEPS)}, not {params['step']!r}"
    if action == "toml_edits":
        return _edits_problem(params["edits"], templated=templated)
    if "also" in params:
        return _also_problem(params["also"], templated=templated)
    if action == "env_set":
        name = params["name"]
        if not isinstance(name, str):
            return "fix action 'env_set': name must be a string"
        # a template is checked once filled in; a malformed name is the plan's to refuse
        if _ENV_NAME.fullmatch(name):
            problem = env_name_problem(name)
            if problem:
                return f"fix action 'env_set': {problem}"
    return None


ALSO_ACTIONS = frozenset({"flag_remove", "flag_replace"})


def _also_problem(also: Any, *, templated: bool) -> str | None:
    if not isinstance(also, list) or not also:
        return "fix parameter 'also' must be a non-empty list"
    for n, part in enumerate(also, 1):
        if (
            not isinstance(part, dict)
            or part.get("action") not in ALSO_ACTIONS
            or not isinstance(part.get("params"), dict)
        ):
            return f"fix parameter 'also', part {n}: one of {sorted(ALSO_ACTIONS)} with params"
        problem = validate_action(part["action"], part["params"], templated=templated)
        if problem:
            return f"fix parameter 'also', part {n}: {problem}"
    return None


def _edits_problem(edits: Any, *, templated: bool) -> str | None:
    if not isinstance(edits, list) or not edits:
        return "fix action 'toml_edits': edits must be a non-empty list"
    for n, edit in enumerate(edits, 1):
        if not isinstance(edit, dict) or edit.get("action") not in KEY_EDITS:
            return f"fix action 'toml_edits': edit {n} must name one of {sorted(KEY_EDITS)}"
        params = {k: v for k, v in edit.items() if k != "action"}
        problem = validate_action(
            edit["action"], {"file": "dataset_config", **params}, templated=templated
        )
        if problem:
            return f"fix action 'toml_edits', edit {n}: {problem}"
    return None


def toml_edits(label: str, *edits: FixAction) -> FixAction:
    """One fix made of several dataset-TOML key edits (all ``file: dataset_config``)."""
    return FixAction(
        "toml_edits",
        {
            "file": "dataset_config",
            "edits": [
                {"action": e.action, **{k: v for k, v in e.params.items() if k != "file"}}
                for e in edits
            ],
        },
        label=label,
    )


def windows_single_process_fixes() -> list[FixAction]:
    """The fixes for multi-process training on Windows (torch there has no libuv): one
    process, and USE_LIBUV=0 for the training step. Shared by the argument checks and the
    probe checks, which reach the same conclusion from the command line or the machine."""
    return [
        FixAction(
            "flag_set",
            {"step": "launch", "flag": "--num_processes", "value": "1"},
            label="Launch one process",
        ),
        FixAction(
            "env_set",
            {"step": "train", "name": "USE_LIBUV", "value": "0"},
            label="Set USE_LIBUV=0 for training",
        ),
    ]


def fix_targets(action: FixAction) -> frozenset[tuple[str, ...]]:
    """What a fix changes: TOML keys, a step's flags, an env variable, a download.

    Two fixes of one finding that change the same thing are alternatives (rename the key
    *or* remove it): once one is applied the other is moot. Fixes that change different
    things (the script's ``--mixed_precision`` and accelerate's) are complementary."""
    p = action.params
    if action.action in KEY_EDITS:
        return frozenset({("toml", str(p["file"]), str(p["table"]), str(p["key"]))})
    if action.action == "toml_edits":
        return frozenset(
            ("toml", str(p["file"]), str(e.get("table", "")), str(e.get("key", "")))
            for e in p["edits"]
            if isinstance(e, dict)
        )
    if action.action == "toml_fix_windows_paths":
        return frozenset({("toml-paths", str(p["file"]))})
    if "flag" in p and "step" in p:
        return frozenset({("flag", str(p["step"]), str(p["flag"]))})
    if action.action == "env_set":
        return frozenset({("env", str(p["step"]), str(p["name"]))})
    if action.action == "download":
        return frozenset({("download", str(p["name"]))})
    return frozenset({(action.action, *(str(v) for v in p.values()))})
