"""Walk a step's tokens the way argparse does: unknown, ambiguous, abbreviated, mistyped,
repeated and stray options, each with the fix argparse's own message implies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wantui.core.args.catalog import (
    STEP_SCRIPTS,
    ArgSpec,
    hunyuan_options,
    replacement_for,
)
from wantui.core.args.options import Occurrence, read_args, step_options
from wantui.core.args.state import ArgState, StepFindings
from wantui.core.fixactions import FixAction
from wantui.core.similar import did_you_mean


def _valid_value(spec: ArgSpec, value: str) -> str | None:
    """argparse's complaint about a value, or None."""
    if spec.type == "int":
        try:
            int(value)
        except ValueError:
            return f"invalid int value: '{value}'"
    elif spec.type == "float":
        try:
            float(value)
        except ValueError:
            return f"invalid float value: '{value}'"
    elif spec.type == "_int_or_float":
        v = value[:-1] if value.endswith("%") else value
        try:
            float(v)
        except ValueError:
            return f"invalid _int_or_float value: '{value}'"
    if spec.choices is not None and value not in spec.choices:
        return f"invalid choice: '{value}' (choose from {', '.join(repr(c) for c in spec.choices)})"
    return None


def _value_advice(spec: ArgSpec, better: str | None) -> dict[str, str | None]:
    """Which advice says what to write instead when no value can be guessed (guides that
    say `--blocks_to_swap transformer_blocks` leave users without a number)."""
    swap = better is None and spec.name == "--blocks_to_swap"
    whole = better is None and not swap and spec.type == "int"
    return {"blocks_to_swap": "yes" if swap else None, "whole_number": "yes" if whole else None}


def _value_fix(spec: ArgSpec, value: str) -> str | None:
    """A corrected value when the intent is clear."""
    if spec.name == "--timestep_boundary":
        try:
            f = float(value)
        except ValueError:
            return None
        return str(round(f * 1000)) if 0 < f <= 1 else str(round(f))
    if spec.type == "int":
        try:
            f = float(value)
            return str(int(f)) if f.is_integer() else None
        except ValueError:
            return None
    if spec.choices:
        if spec.name == "--mixed_precision" and value.lower() in (
            "fp32",
            "float32",
            "float",
            "none",
            "full",
        ):
            return "no"
        if value.lower() in ("bfloat16",) and "bf16" in spec.choices:
            return "bf16"
        if value.lower() in ("float16", "half") and "fp16" in spec.choices:
            return "fp16"
        return did_you_mean(value, spec.choices)
    return None


def scan_args(
    step: str,
    args: list[str],
    out: StepFindings,
    *,
    opts: Mapping[str, ArgSpec] | None = None,
    fix_step: str | None = None,
) -> ArgState:
    """Report unknown, ambiguous, mistyped and stray tokens of the command model's walk."""
    opts = opts if opts is not None else step_options(step)
    fix_step = fix_step or step
    view = read_args(args, opts)
    state = ArgState.of(step, view)
    names = sorted({s.name for s in opts.values()})
    for _, tok in view.stray:
        out.emit(
            "stray-argument",
            captures={"token": tok},
            text={
                "after": tok,
                "tokens": tok,
                "why": " (a value with no option before it)",
            },
            step=fix_step,
        )
    seen: dict[str, int] = {}
    for occ in view.occurrences:
        _occurrence(occ, step, fix_step, names, out, state, seen)
    return state


def _occurrence(
    occ: Occurrence,
    step: str,
    fix_step: str,
    names: list[str],
    out: StepFindings,
    state: ArgState,
    seen: dict[str, int],
) -> None:
    """The findings of one option occurrence."""
    name, spec = occ.written, occ.spec
    tok = state.args[occ.start]
    if spec is None:
        following = list(occ.values[1:] if occ.inline else occ.values)
        if occ.ambiguous:
            rep = replacement_for(name, step) if fix_step != "launch" else None
            out.emit(
                "ambiguous-option",
                captures={"flag": name},
                text={"matches": ", ".join(occ.ambiguous)},
                fixes=_replacement_fixes(name, rep, fix_step, following, state) if rep else [],
                step=fix_step,
            )
        else:
            _unknown(
                name, step, fix_step, following, names, out, state, launcher=fix_step == "launch"
            )
        return
    if occ.abbreviated:
        out.emit(
            "abbreviated-option",
            text={"written": name, "option": spec.name},
            fixes=[
                FixAction(
                    "flag_replace",
                    {"step": fix_step, "flag": name, "new_flag": spec.name},
                    label=f"Write `{spec.name}`",
                )
            ],
            step=fix_step,
        )
    canonical = spec.name
    seen[canonical] = seen.get(canonical, 0) + 1
    if not spec.takes_value:
        if occ.extra:
            following = list(occ.extra[1:] if occ.inline else occ.extra)
            inline = occ.extra[0] if occ.inline else ""
            out.emit(
                "flag-given-a-value",
                captures={"flag": canonical},
                text={
                    "written": tok if occ.inline else " ".join([name, *following]),
                    "outcome": f"fails with `argument {canonical}: ignored explicit argument '{inline}'`"
                    if occ.inline
                    else f"leaves `{' '.join(following)}` as unrecognized arguments",
                },
                fixes=[
                    FixAction(
                        "flag_set",
                        {"step": fix_step, "flag": tok if occ.inline else name, "value": []},
                        label=f"Keep `{canonical}` alone",
                    )
                ]
                if not occ.inline
                else [
                    FixAction(
                        "flag_remove", {"step": fix_step, "flag": name}, label=f"Remove `{tok}`"
                    ),
                ],
                step=fix_step,
            )
        return
    vals, extra = list(occ.values), list(occ.extra)
    if not vals and spec.nargs not in ("*", "?"):
        out.emit(
            "option-missing-value",
            captures={"flag": canonical},
            text={"expected": "at least one argument" if spec.nargs == "+" else "one argument"},
            step=fix_step,
        )
    for v in vals:
        problem = _valid_value(spec, v)
        if problem:
            better = _value_fix(spec, v)
            out.emit(
                "invalid-argument-value",
                captures={"flag": canonical, "value": v},
                text={
                    "problem": problem,
                    "use": f" Use `{canonical} {better}`." if better else None,
                    **_value_advice(spec, better),
                },
                fixes=[
                    FixAction(
                        "flag_set",
                        {"step": fix_step, "flag": name, "value": better},
                        label=f"Set {canonical} {better}",
                    )
                ]
                if better
                else [],
                step=fix_step,
            )
    if extra:
        out.emit(
            "stray-argument",
            captures={"flag": canonical},
            text={
                "lead": "Extra value(s) after",
                "after": canonical,
                "tail": f": {' '.join(extra)}",
                "first": f"`{canonical}` takes one value; ",
                "tokens": " ".join(extra),
            },
            fixes=[
                FixAction(
                    "flag_set",
                    {"step": fix_step, "flag": name, "value": vals[0] if vals else []},
                    label=f"Keep `{canonical} {vals[0] if vals else ''}`".rstrip() + "`",
                )
            ],
            step=fix_step,
        )
    if seen[canonical] == 2:
        out.emit(
            "option-repeated",
            captures={"flag": canonical},
            text={"kept": " ".join(state.values.get(canonical, vals))},
            step=fix_step,
        )


def _replacement_fixes(
    name: str, rep: Any, step: str, values: list[str], state: ArgState
) -> list[FixAction]:
    fixes: list[FixAction] = []
    if rep.kind == "flag":
        params: dict[str, Any] = {"step": step, "flag": name, "new_flag": rep.target}
        if rep.value is not None:
            params["value"] = rep.value
        if state.has(rep.target):
            fixes.append(
                FixAction("flag_remove", {"step": step, "flag": name}, label=f"Remove `{name}`")
            )
        else:
            fixes.append(
                FixAction("flag_replace", params, label=f"Use `{rep.target}` instead of `{name}`")
            )
    elif rep.kind == "toml":
        value = _toml_value(rep.target, values)
        remove = {"action": "flag_remove", "params": {"step": step, "flag": name}}
        if value is not None and rep.target != "target_frames":
            # one fix in two files (the key set, the flag removed; one undo): the key
            # alone left the flag, and argparse rejecting the command
            fixes.append(
                FixAction(
                    "toml_set_key",
                    {
                        "file": "dataset_config",
                        "table": "general",
                        "key": rep.target,
                        "value": value,
                        "also": [remove],
                    },
                    label=f"Set {rep.target} = {value} in the dataset TOML's [general]"
                    f" and remove `{name}`",
                )
            )
        else:
            fixes.append(
                FixAction("flag_remove", {"step": step, "flag": name}, label=f"Remove `{name}`")
            )
    else:
        fixes.append(
            FixAction("flag_remove", {"step": step, "flag": name}, label=f"Remove `{name}`")
        )
    return fixes


def _toml_value(key: str, values: list[str]) -> str | None:
    try:
        nums = [int(v) for v in values]
    except ValueError:
        return None
    if key == "resolution" and len(nums) in (1, 2):
        return str(nums[0]) if len(nums) == 1 else f"[{nums[0]}, {nums[1]}]"
    if key == "batch_size" and len(nums) == 1:
        return str(nums[0])
    if key == "target_frames" and nums:
        return "[" + ", ".join(str(n) for n in nums) + "]"
    return None


def _unknown(
    name: str,
    step: str,
    fix_step: str,
    values: list[str],
    names: list[str],
    out: StepFindings,
    state: ArgState,
    *,
    launcher: bool = False,
) -> None:
    rep = None if launcher else replacement_for(name, step)
    shown = " ".join([name, *values])
    if rep is not None:
        target = (
            f"the dataset TOML's `{rep.target}`"
            if rep.kind == "toml"
            else f"`{rep.target}`"
            if rep.target
            else ""
        )
        out.emit(
            "unknown-argument",
            captures={"flag": name, "replacement": rep.target},
            text={
                "rest": " does not exist" + (f"; use {target}" if target else ""),
                "why": f"argparse stops with `unrecognized arguments: {shown}`"
                + (f": {rep.why}" if rep.why else "")
                + ".",
            },
            fixes=_replacement_fixes(name, rep, fix_step, values, state),
            priority=65,
            step=fix_step,
        )
        return
    if not launcher and name in hunyuan_options():
        out.emit(
            "unknown-argument",
            captures={"flag": name},
            text={
                "rest": " is a HunyuanVideo option",
                "why": f"The Wan scripts do not have it: `unrecognized arguments: {shown}`.",
            },
            fixes=[
                FixAction("flag_remove", {"step": fix_step, "flag": name}, label=f"Remove `{name}`")
            ],
            priority=65,
            step=fix_step,
        )
        return
    hit = did_you_mean(name, names) or did_you_mean(name.replace("-", "_"), names)
    fixes = []
    if hit and not state.has(hit):
        fixes.append(
            FixAction(
                "flag_replace",
                {"step": fix_step, "flag": name, "new_flag": hit},
                label=f"Use `{hit}`",
            )
        )
    fixes.append(
        FixAction("flag_remove", {"step": fix_step, "flag": name}, label=f"Remove `{name}`")
    )
    out.emit(
        "unknown-argument",
        captures={"flag": name, "suggestion": hit or ""},
        text={
            "lead": "Unknown option ",
            "rest": f" (did you mean `{hit}`?)" if hit else None,
            "why": "`accelerate launch` has no such option (it stops with an argparse error)."
            if launcher
            else f"{STEP_SCRIPTS.get(step, 'the script')} has no such option: argparse stops "
            f"with `unrecognized arguments: {shown}`.",
        },
        fixes=fixes,
        step=fix_step,
    )


# -- semantic checks ---------------------------------------------------------------------
