"""Fix actions as data: :class:`FixAction`, its validation and the environment policy.

The closed set of actions is :mod:`wantui.core.fixes.actions`, one module per action
(its parameters, description, plan and apply). Rules and checks can only *name* one of
these actions with parameters; they never run code. The fix engine (``wantui.core.fixes``) turns a :class:`FixAction` into a plan
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


STEPS = frozenset({"latents", "te", "train", "launch", "all"})


@dataclass(frozen=True)
class FixAction:
    """One typed fix: an action name (:mod:`wantui.core.fixes.actions`) and its parameters.

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

    The actions and their parameters are those of :mod:`wantui.core.fixes.actions` (one
    module per action). With ``templated`` (rule loading), values may still contain
    ``{capture}`` placeholders and are not checked against the closed vocabularies.
    """
    from wantui.core.fixes.actions import UNITS

    unit = UNITS.get(action)
    if unit is None:
        return f"unknown fix action '{action}' (known: {', '.join(sorted(UNITS))})"
    required, optional = unit.required, unit.optional
    missing = sorted(required - params.keys())
    if missing:
        return f"fix action '{action}' is missing parameter(s): {', '.join(missing)}"
    unknown = sorted(params.keys() - required - optional)
    if unknown:
        return f"fix action '{action}' has unknown parameter(s): {', '.join(unknown)}"
    if not templated:
        for p in unit.params:
            vocabulary = {"role": FILE_ROLES, "step": STEPS}.get(p.type)
            if vocabulary is not None and p.name in params and params[p.name] not in vocabulary:
                return f"fix action '{action}': {p.name} must be one of {sorted(vocabulary)}, not {params[p.name]!r}"
    return unit.check(params, templated=templated)


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
    from wantui.core.fixes.actions import UNITS

    return UNITS[action.action].targets(action.params)
