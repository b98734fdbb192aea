"""Check one step's arguments the way argparse and musubi-tuner will, before anything runs.

argparse stops at the first error and musubi-tuner finds many problems only after a
model load (attention flag, optimizer, network module) or at the very end (output name).
This reports every problem at once, as Findings with typed flag fixes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.args.catalog import (
    ATTENTION_FLAGS,
    BNB_OPTIMIZERS,
    NETWORK_MODULES,
    SPECIAL_OPTIMIZERS,
    STEP_SCRIPTS,
    TORCH_OPTIMIZERS,
    WAN22_TASKS,
    ArgSpec,
    accelerate_options,
    hunyuan_options,
    replacement_for,
    script_options,
)
from wantui.core.args.parse import ParsedCommand, _is_option
from wantui.core.finding import Finding, Location, Severity
from wantui.core.findings import FindingList
from wantui.core.fixactions import FixAction
from wantui.core.similar import did_you_mean

PATH_FLAGS = {
    "--dit": "dit-wrong-file",
    "--dit_high_noise": "dit-wrong-file",
    "--vae": "vae-wrong-file",
    "--t5": "wrong-t5-encoder",
    "--clip": "wrong-clip-model",
    "--network_weights": "unknown-argument",
    "--sample_prompts": "missing-required-argument",
}


@dataclass
class ArgState:
    """What argparse would make of a step's arguments: last value per option."""

    step: str
    values: dict[str, list[str]] = field(
        default_factory=dict
    )  # canonical name -> values (last wins)
    written: dict[str, str] = field(default_factory=dict)  # canonical name -> the token as typed
    counts: dict[str, int] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> str | None:
        vals = self.values.get(name)
        return vals[0] if vals else None

    def flag(self, name: str) -> str:
        """The flag as the user wrote it (fixes must find it in the argv)."""
        return self.written.get(name, name)


class _Out(FindingList):
    """A step's findings: origin "check", the step captured and in ``steps`` (launcher
    options belong to training), the command's location."""

    def __init__(self, step: str, location: Location | None) -> None:
        super().__init__()
        self.step = step
        self.location = location

    def add(  # type: ignore[override]
        self,
        rule: str,
        catalog: str,
        severity: Severity,
        title: str,
        message: str,
        *,
        fixes: list[FixAction] | None = None,
        advice: list[str] | None = None,
        captures: dict[str, str] | None = None,
        priority: int = 60,
        step: str | None = None,
    ) -> Finding:
        step = step or self.step
        return super().add(
            rule,
            catalog,
            severity,
            title,
            message,
            origin="check",
            location=self.location,
            fixes=fixes,
            advice=advice,
            captures={"step": step, **(captures or {})},
            steps=(step,) if step != "launch" else ("train",),
            priority=priority,
        )


def _prefix_hits(name: str, opts: dict[str, ArgSpec]) -> list[str]:
    if not name.startswith("--"):
        return []
    return sorted({opts[n].name for n in opts if n.startswith(name)})


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


def _value_advice(spec: ArgSpec, better: str | None) -> list[str]:
    """What to write instead when no value can be guessed (guides that say
    `--blocks_to_swap transformer_blocks` leave users without a number)."""
    if better is not None:
        return []
    if spec.name == "--blocks_to_swap":
        return [
            "It takes the number of transformer blocks to swap out to CPU memory: at most 39 for "
            "the 14B models, 29 for 1.3B (more blocks, less VRAM, slower). Remove it if the "
            "model fits in VRAM."
        ]
    if spec.type == "int":
        return [f"{spec.name} takes a whole number."]
    return []


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
    out: _Out,
    *,
    opts: dict[str, ArgSpec] | None = None,
    fix_step: str | None = None,
) -> ArgState:
    """Walk the tokens like argparse; report unknown, ambiguous, mistyped and stray tokens."""
    opts = opts if opts is not None else script_options(STEP_SCRIPTS[step])
    fix_step = fix_step or step
    state = ArgState(step=step)
    names = sorted({s.name for s in opts.values()})
    i = 0
    while i < len(args):
        tok = args[i]
        if not _is_option(tok):
            out.add(
                "stray-argument",
                "unknown-argument",
                Severity.ERROR,
                f"Stray argument `{tok}`",
                f"argparse stops with `unrecognized arguments: {tok}` (a value with no option before it).",
                advice=["Remove it, or put the option it belongs to in front of it."],
                captures={"token": tok},
                step=fix_step,
            )
            i += 1
            continue
        name, eq, inline = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        j = i + 1
        following: list[str] = []
        while j < len(args) and not _is_option(args[j]):
            following.append(args[j])
            j += 1
        spec = opts.get(name)
        if spec is None:
            hits = _prefix_hits(name, opts)
            if len(hits) == 1:
                spec = opts[hits[0]]
                out.add(
                    "abbreviated-option",
                    "unknown-argument",
                    Severity.INFO,
                    f"`{name}` is read as `{spec.name}`",
                    f"argparse accepts the unique prefix `{name}` for `{spec.name}`; spelling it out keeps the "
                    "command working when musubi-tuner adds options.",
                    fixes=[
                        FixAction(
                            "flag_replace",
                            {"step": fix_step, "flag": name, "new_flag": spec.name},
                            label=f"Write `{spec.name}`",
                        )
                    ],
                    priority=5,
                    step=fix_step,
                )
            elif len(hits) > 1:
                rep = replacement_for(name, step) if fix_step != "launch" else None
                out.add(
                    "ambiguous-option",
                    "invalid-argument-value",
                    Severity.ERROR,
                    f"`{name}` is ambiguous",
                    f"argparse stops with `ambiguous option: {name} could match {', '.join(hits)}`.",
                    fixes=_replacement_fixes(name, rep, fix_step, following, state) if rep else [],
                    advice=[f"Use one of {', '.join(hits)}."],
                    captures={"flag": name},
                    step=fix_step,
                )
                i = j
                continue
            else:
                _unknown(
                    name,
                    step,
                    fix_step,
                    following,
                    names,
                    out,
                    state,
                    launcher=fix_step == "launch",
                )
                i = j
                continue
        canonical = spec.name
        state.counts[canonical] = state.counts.get(canonical, 0) + 1
        state.written[canonical] = name
        if spec.type == "flag":
            state.values[canonical] = []
            stray = ([inline] if eq else []) + following
            if stray:
                out.add(
                    "flag-given-a-value",
                    "unknown-argument",
                    Severity.ERROR,
                    f"`{canonical}` takes no value",
                    f"`{canonical}` is an on/off switch; `{' '.join([name, *following]) if not eq else tok}` "
                    + (
                        f"fails with `argument {canonical}: ignored explicit argument '{inline}'`."
                        if eq
                        else f"leaves `{' '.join(following)}` as unrecognized arguments."
                    ),
                    fixes=[
                        FixAction(
                            "flag_set",
                            {"step": fix_step, "flag": tok if eq else name, "value": []},
                            label=f"Keep `{canonical}` alone",
                        )
                    ]
                    if not eq
                    else [
                        FixAction(
                            "flag_remove", {"step": fix_step, "flag": name}, label=f"Remove `{tok}`"
                        ),
                    ],
                    captures={"flag": canonical},
                    step=fix_step,
                )
            i = j
            continue
        if eq:
            vals = [inline]
            extra = following
        elif spec.nargs in ("*", "+"):
            vals, extra = following, []
        elif spec.nargs == "?":
            vals, extra = following[:1], following[1:]
        else:
            vals, extra = following[:1], following[1:]
        if not vals and spec.nargs not in ("*", "?"):
            out.add(
                "option-missing-value",
                "invalid-argument-value",
                Severity.ERROR,
                f"`{canonical}` has no value",
                f"argparse stops with `argument {canonical}: expected "
                f"{'at least one argument' if spec.nargs == '+' else 'one argument'}`.",
                captures={"flag": canonical},
                step=fix_step,
            )
        for v in vals:
            problem = _valid_value(spec, v)
            if problem:
                better = _value_fix(spec, v)
                out.add(
                    "invalid-argument-value",
                    "invalid-argument-value",
                    Severity.ERROR,
                    f"`{canonical} {v}` is not accepted",
                    f"argparse stops with `argument {canonical}: {problem}`."
                    + (f" Use `{canonical} {better}`." if better else ""),
                    fixes=[
                        FixAction(
                            "flag_set",
                            {"step": fix_step, "flag": name, "value": better},
                            label=f"Set {canonical} {better}",
                        )
                    ]
                    if better
                    else [],
                    advice=_value_advice(spec, better),
                    captures={"flag": canonical, "value": v},
                    priority=70,
                    step=fix_step,
                )
        if extra:
            out.add(
                "stray-argument",
                "unknown-argument",
                Severity.ERROR,
                f"Extra value(s) after `{canonical}`: {' '.join(extra)}",
                f"`{canonical}` takes one value; argparse stops with `unrecognized arguments: {' '.join(extra)}`.",
                fixes=[
                    FixAction(
                        "flag_set",
                        {"step": fix_step, "flag": name, "value": vals[0] if vals else []},
                        label=f"Keep `{canonical} {vals[0] if vals else ''}`".rstrip() + "`",
                    )
                ],
                captures={"flag": canonical},
                step=fix_step,
            )
        if state.counts[canonical] == 2:
            out.add(
                "option-repeated",
                "invalid-argument-value",
                Severity.WARNING,
                f"`{canonical}` is given more than once",
                f"argparse keeps the last value (`{' '.join(vals)}`); the earlier one is ignored.",
                captures={"flag": canonical},
                priority=20,
                step=fix_step,
            )
        state.values[canonical] = vals
        i = j
    return state


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
        if value is not None and rep.target != "target_frames":
            fixes.append(
                FixAction(
                    "toml_set_key",
                    {
                        "file": "dataset_config",
                        "table": "general",
                        "key": rep.target,
                        "value": value,
                    },
                    label=f"Set {rep.target} = {value} in the dataset TOML's [general]",
                )
            )
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
    out: _Out,
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
        out.add(
            "unknown-argument",
            "unknown-argument",
            Severity.ERROR,
            f"`{name}` does not exist" + (f"; use {target}" if target else ""),
            f"argparse stops with `unrecognized arguments: {shown}`"
            + (f": {rep.why}" if rep.why else "")
            + ".",
            fixes=_replacement_fixes(name, rep, fix_step, values, state),
            captures={"flag": name, "replacement": rep.target},
            priority=65,
            step=fix_step,
        )
        return
    if not launcher and name in hunyuan_options():
        out.add(
            "unknown-argument",
            "unknown-argument",
            Severity.ERROR,
            f"`{name}` is a HunyuanVideo option",
            f"The Wan scripts do not have it: `unrecognized arguments: {shown}`.",
            fixes=[
                FixAction("flag_remove", {"step": fix_step, "flag": name}, label=f"Remove `{name}`")
            ],
            captures={"flag": name},
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
    out.add(
        "unknown-argument",
        "unknown-argument",
        Severity.ERROR,
        f"Unknown option `{name}`" + (f" (did you mean `{hit}`?)" if hit else ""),
        (
            "`accelerate launch` has no such option (it stops with an argparse error)."
            if launcher
            else f"{STEP_SCRIPTS.get(step, 'the script')} has no such option: argparse stops with "
            f"`unrecognized arguments: {shown}`."
        ),
        fixes=fixes,
        captures={"flag": name, "suggestion": hit or ""},
        priority=60,
        step=fix_step,
    )


# -- semantic checks ---------------------------------------------------------------------


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


def check_required(state: ArgState, out: _Out) -> None:
    opts = script_options(STEP_SCRIPTS[state.step])
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


def check_files(state: ArgState, cwd: Path, out: _Out) -> dict[str, Any]:
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
            out.add(
                "file-not-found",
                catalog,
                Severity.ERROR,
                f"{flag}: file not found",
                f"`{value}` does not exist (resolved from {cwd} to `{path}`).",
                captures={"flag": flag, "path": str(path)},
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
    return infos


def check_train(
    state: ArgState, out: _Out, *, launch_args: list[str], infos: dict[str, Any], windows: bool
) -> None:
    s = state
    task = s.get("--task") or "t2v-14B"
    high = s.get("--dit_high_noise")
    # -- attention
    given = [f for f in ATTENTION_FLAGS if s.has(f)]
    if not given:
        out.add(
            "missing-attention-flag",
            "missing-attention-flag",
            Severity.ERROR,
            "No attention flag",
            "Training needs one of --sdpa, --flash_attn, --xformers, --flash3; musubi-tuner says so only after "
            "building the dataset and the accelerator (`either --sdpa, --flash-attn, ... must be specified`).",
            fixes=[FixAction("flag_add", {"step": "train", "flag": "--sdpa"}, label="Add --sdpa")],
            priority=70,
        )
    elif given[0] == "--sage_attn" or (given == ["--sage_attn"]):
        out.add(
            "sage-attn-training",
            "attention-backend-missing",
            Severity.ERROR,
            "--sage_attn cannot train",
            "musubi-tuner rejects it: `SageAttention doesn't support training currently`.",
            fixes=[
                FixAction(
                    "flag_replace",
                    {"step": "train", "flag": s.flag("--sage_attn"), "new_flag": "--sdpa"},
                    label="Use --sdpa instead",
                )
                if not s.has("--sdpa")
                else FixAction(
                    "flag_remove",
                    {"step": "train", "flag": s.flag("--sage_attn")},
                    label="Remove --sage_attn",
                )
            ],
            priority=70,
        )
    elif s.has("--sage_attn"):
        out.add(
            "sage-attn-training",
            "attention-backend-missing",
            Severity.ERROR,
            "--sage_attn cannot train",
            "musubi-tuner rejects --sage_attn for training even next to another attention flag.",
            fixes=[
                FixAction(
                    "flag_remove",
                    {"step": "train", "flag": s.flag("--sage_attn")},
                    label="Remove --sage_attn",
                )
            ],
            priority=70,
        )
    # -- optimizer
    opt = s.get("--optimizer_type")
    if not opt:
        out.add(
            "missing-optimizer",
            "missing-optimizer",
            Severity.ERROR,
            "No --optimizer_type",
            "The default is an empty string (the help's 'AdamW (default)' is wrong): after loading the DiT, "
            "training fails with `module 'torch.optim' has no attribute ''`.",
            fixes=[
                FixAction(
                    "flag_set" if s.has("--optimizer_type") else "flag_add",
                    {"step": "train", "flag": s.flag("--optimizer_type"), "value": "adamw8bit"},
                    label="Use --optimizer_type adamw8bit",
                )
            ],
            priority=70,
        )
    elif not _optimizer_ok(opt):
        better = _optimizer_fix(opt)
        out.add(
            "unknown-optimizer",
            "unknown-optimizer",
            Severity.ERROR,
            f"Unknown optimizer `{opt}`",
            f"musubi-tuner looks it up as `torch.optim.{opt}` (case-sensitive) after loading the DiT and fails with "
            f"`module 'torch.optim' has no attribute '{opt}'`."
            + (f" Use `{better}`." if better else ""),
            fixes=[
                FixAction(
                    "flag_set",
                    {"step": "train", "flag": s.flag("--optimizer_type"), "value": better},
                    label=f"Use --optimizer_type {better}",
                )
            ]
            if better
            else [],
            captures={"optimizer": opt},
            priority=70,
        )
    # -- network module
    net = s.get("--network_module")
    if net is None or net not in NETWORK_MODULES:
        title = (
            "No --network_module"
            if net is None
            else f"--network_module {net} is not a Wan LoRA module"
        )
        why = (
            "musubi-tuner prints `import network module: None` and fails with "
            "`'NoneType' object has no attribute 'startswith'` after loading the DiT."
            if net is None
            else "`networks.lora` is HunyuanVideo's (`No LoRA modules found`)"
            if net.endswith("networks.lora")
            else f"`No module named '{net}'` after loading the DiT"
        )
        out.add(
            "wrong-network-module",
            "wrong-network-module",
            Severity.ERROR,
            title,
            why + (". Use `networks.lora_wan`." if net is not None else ""),
            fixes=[
                FixAction(
                    "flag_set" if net is not None else "flag_add",
                    {
                        "step": "train",
                        "flag": s.flag("--network_module"),
                        "value": "networks.lora_wan",
                    },
                    label="Use --network_module networks.lora_wan",
                )
            ],
            priority=70,
        )
    # -- output
    if not s.get("--output_name"):
        out.add(
            "output-name-missing",
            "output-name-missing",
            Severity.ERROR,
            "No --output_name",
            "Training runs to the end, names checkpoints `None-step00000050.safetensors` and then crashes at the "
            "final save (`unsupported operand type(s) for +: 'NoneType' and 'str'`): the whole run is lost.",
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--output_name", "value": "wan_lora"},
                    label="Add --output_name wan_lora",
                )
            ],  # fmt: skip
            priority=75,
        )
    if not s.get("--output_dir"):
        out.add(
            "output-dir-missing",
            "output-dir-missing",
            Severity.ERROR,
            "No --output_dir",
            "The first save fails with `expected str, bytes or os.PathLike object, not NoneType`.",
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--output_dir", "value": "output"},
                    label="Add --output_dir output",
                )
            ],  # fmt: skip
            priority=75,
        )
    # -- Wan2.2 high/low
    # The file says what it is; the (possibly wrong) task string is only a fallback.
    dit_info = infos.get("--dit")
    family = (
        dit_info.details.get("family")
        if dit_info is not None and dit_info.kind == "wan-dit"
        else None
    )
    is_i2v = family in ("i2v", "flf2v") if family else "i2v" in task
    wan22_fix = "i2v-A14B" if is_i2v else "t2v-A14B"
    task_fix = FixAction(
        "flag_set" if s.has("--task") else "flag_add",
        {"step": "train", "flag": s.flag("--task"), "value": wan22_fix},
        label=f"Set --task {wan22_fix}",
    )
    if high and task not in WAN22_TASKS:
        if not s.has("--timestep_boundary"):
            out.add(
                "timestep-boundary-missing",
                "timestep-boundary-missing",
                Severity.ERROR,
                f"--dit_high_noise with the Wan2.1 task {task}",
                f"`--task {task}`{' (the default)' if not s.has('--task') else ''} has no timestep boundary, so "
                "training fails with `timestep_boundary is not specified for high noise model`. Wan2.2 is selected "
                f"only with `--task {wan22_fix}`, which also brings its boundary.",
                fixes=[task_fix],
                advice=[f"Or keep the task and add --timestep_boundary {900 if is_i2v else 875}."],
                captures={"task": task},
                priority=80,
            )
        else:
            out.add(
                "wan22-task-not-set",
                "wan22-task-not-set",
                Severity.WARNING,
                f"Wan2.2 experts trained as Wan2.1 {task}",
                "With --dit_high_noise, the weights are Wan2.2, but the task selects the Wan2.1 config "
                "(time embedding, V2.2: False).",
                fixes=[task_fix],
                captures={"task": task},
                priority=60,
            )
    elif task not in WAN22_TASKS:
        info = infos.get("--dit")
        version = (
            info.details.get("wan_version") if info is not None and info.kind == "wan-dit" else None
        )
        if version == "2.2":
            out.add(
                "wan22-task-not-set",
                "wan22-task-not-set",
                Severity.WARNING,
                f"A Wan2.2 DiT trained as Wan2.1 {task}",
                "The DiT looks like Wan2.2 (file name/metadata); without `--task t2v-A14B`/`i2v-A14B` it trains "
                "with the Wan2.1 config.",
                fixes=[task_fix],
                captures={"task": task},
                priority=50,
            )
    if s.has("--offload_inactive_dit") and not high:
        out.add(
            "offload-without-high-noise",
            "blockswap-with-offload",
            Severity.INFO,
            "--offload_inactive_dit does nothing without --dit_high_noise",
            "It offloads the inactive expert of a high/low pair.",
            priority=10,
        )
    # -- precision
    dit = infos.get("--dit")
    dtype = dit.dtype if dit is not None and dit.kind == "wan-dit" else None
    script_mp = s.get("--mixed_precision")
    accel_mp = _launch_value(launch_args, "--mixed_precision")
    if dtype in ("bf16", "fp16"):
        if script_mp not in (dtype, "no"):
            trap = script_mp is None and accel_mp == dtype
            fixes = [
                FixAction(
                    "flag_set" if s.has("--mixed_precision") else "flag_add",
                    {"step": "train", "flag": s.flag("--mixed_precision"), "value": dtype},
                    label=f"Set the script's --mixed_precision {dtype}",
                )
            ]
            if accel_mp is not None and accel_mp != dtype:
                fixes.append(
                    FixAction(
                        "flag_set",
                        {"step": "launch", "flag": "--mixed_precision", "value": dtype},
                        label=f"Set accelerate's --mixed_precision {dtype}",
                    )
                )
            out.add(
                "precision-mismatch",
                "precision-mismatch",
                Severity.ERROR,
                f"The DiT is {dtype}, the script's --mixed_precision is {script_mp or 'not set'}",
                f"musubi-tuner asserts `DiT weights are in {dtype}, mixed precision must be {dtype} or no`"
                + (
                    f". Passing --mixed_precision {dtype} to accelerate launch alone does not satisfy it: the "
                    "check reads the script's own option."
                    if trap
                    else "."
                ),
                fixes=fixes,
                captures={"dit_dtype": dtype, "mixed_precision": script_mp or ""},
                priority=80,
            )
    elif script_mp is None and dit is None:
        out.add(
            "precision-unset",
            "precision-mismatch",
            Severity.WARNING,
            "The script's --mixed_precision is not set",
            "With bf16 or fp16 DiT weights musubi-tuner asserts that the script's own --mixed_precision matches "
            "them (accelerate's flag does not count). The DiT could not be read to tell which.",
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--mixed_precision", "value": accel_mp or "bf16"},
                    label=f"Add --mixed_precision {accel_mp or 'bf16'}",
                )
            ],  # fmt: skip
            priority=40,
        )
    if script_mp and accel_mp and script_mp != accel_mp and accel_mp != "no" and script_mp != "no":
        out.add(
            "precision-launch-mismatch",
            "precision-mismatch",
            Severity.WARNING,
            f"accelerate's --mixed_precision {accel_mp} differs from the script's {script_mp}",
            "The two disagree; musubi-tuner checks the script's against the DiT, accelerate autocasts with its own.",
            fixes=[
                FixAction(
                    "flag_set",
                    {"step": "launch", "flag": "--mixed_precision", "value": script_mp},
                    label=f"Set accelerate's --mixed_precision {script_mp}",
                )
            ],  # fmt: skip
            priority=40,
        )
    # -- fp8
    if s.has("--fp8_scaled") and dtype in ("fp8_e4m3fn", "fp8_e5m2"):
        out.add(
            "fp8-scaled-on-fp8-weights",
            "fp8-scaled-on-fp8-weights",
            Severity.ERROR,
            "--fp8_scaled on fp8 weights",
            "The DiT is already fp8: `DiT weights is already in fp8 format, cannot scale to fp8`. Keep --fp8_base.",
            fixes=[
                FixAction(
                    "flag_remove",
                    {"step": "train", "flag": s.flag("--fp8_scaled")},
                    label="Remove --fp8_scaled",
                )
            ]
            + (
                []
                if s.has("--fp8_base")
                else [
                    FixAction(
                        "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                    )
                ]
            ),  # fmt: skip
            priority=75,
        )
    elif s.has("--fp8_scaled") and not s.has("--fp8_base"):
        out.add(
            "fp8-scaled-without-base",
            "fp8-scaled-on-fp8-weights",
            Severity.ERROR,
            "--fp8_scaled without --fp8_base",
            "musubi-tuner asserts `fp8_scaled requires fp8_base`.",
            fixes=[
                FixAction(
                    "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                )
            ],
            priority=75,
        )
    elif dtype in ("fp8_e4m3fn",) and not s.has("--fp8_base"):
        out.add(
            "fp8-weights-without-fp8-base",
            "fp8-scaled-on-fp8-weights",
            Severity.WARNING,
            "fp8 DiT without --fp8_base",
            "The fp8 weights are up-cast to bf16/fp16 on load, doubling their memory.",
            fixes=[
                FixAction(
                    "flag_add", {"step": "train", "flag": "--fp8_base"}, label="Add --fp8_base"
                )
            ],
            priority=40,
        )
    # -- block swap
    swap_raw = s.get("--blocks_to_swap")
    swap = int(swap_raw) if swap_raw is not None and re.fullmatch(r"-?\d+", swap_raw) else None
    layers = dit.details.get("layers") if dit is not None and dit.kind == "wan-dit" else None
    max_swap = (
        (layers - 1) if isinstance(layers, int) and layers > 1 else (29 if "1.3B" in task else 39)
    )
    if swap is not None and swap > max_swap:
        out.add(
            "blocks-to-swap-too-many",
            "blockswap-with-offload",
            Severity.ERROR,
            f"--blocks_to_swap {swap} is over the maximum {max_swap}",
            f"musubi-tuner asserts `Cannot swap more than {max_swap} blocks. Requested {swap} blocks to swap.`",
            fixes=[
                FixAction(
                    "flag_set",
                    {"step": "train", "flag": s.flag("--blocks_to_swap"), "value": str(max_swap)},
                    label=f"Set --blocks_to_swap {max_swap}",
                )
            ],  # fmt: skip
            priority=70,
        )
    if swap and swap > 0 and s.has("--offload_inactive_dit") and high:
        out.add(
            "blockswap-with-offload",
            "blockswap-with-offload",
            Severity.ERROR,
            "--blocks_to_swap with --offload_inactive_dit",
            "musubi-tuner asserts `Block swap is not supported with offloading inactive DiT`; keep one of them.",
            fixes=[
                FixAction(
                    "flag_remove",
                    {"step": "train", "flag": s.flag("--offload_inactive_dit")},
                    label="Remove --offload_inactive_dit (keep block swap)",
                ),
                FixAction(
                    "flag_remove",
                    {"step": "train", "flag": s.flag("--blocks_to_swap")},
                    label="Remove --blocks_to_swap (keep offloading)",
                ),
            ],  # fmt: skip
            priority=70,
        )
    if s.has("--block_swap_h2d_only") and not s.has("--gradient_checkpointing"):
        out.add(
            "h2d-only-without-checkpointing",
            "invalid-argument-value",
            Severity.ERROR,
            "--block_swap_h2d_only needs --gradient_checkpointing",
            "musubi-tuner raises `--block_swap_h2d_only requires --gradient_checkpointing for training`.",
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--gradient_checkpointing"},
                    label="Add --gradient_checkpointing",
                )
            ],  # fmt: skip
            priority=60,
        )
    # -- logging
    log_with = s.get("--log_with")
    if log_with in ("tensorboard", "all") and not s.get("--logging_dir"):
        out.add(
            "logging-dir-missing",
            "missing-required-argument",
            Severity.ERROR,
            f"--log_with {log_with} without --logging_dir",
            "musubi-tuner raises `logging_dir is required when log_with is tensorboard`.",
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--logging_dir", "value": "logs"},
                    label="Add --logging_dir logs",
                )
            ],  # fmt: skip
            priority=60,
        )
    # -- scheduler
    sched = s.get("--lr_scheduler") or "constant"
    warm = s.get("--lr_warmup_steps")
    if sched == "constant" and warm not in (None, "0", "0.0", "0%"):
        out.add(
            "constant-scheduler-with-warmup",
            "invalid-argument-value",
            Severity.ERROR,
            "--lr_warmup_steps with the constant scheduler",
            "`SchedulerType.CONSTANT does not require num_warmup_steps`: use constant_with_warmup.",
            fixes=[
                FixAction(
                    "flag_set" if s.has("--lr_scheduler") else "flag_add",
                    {
                        "step": "train",
                        "flag": s.flag("--lr_scheduler"),
                        "value": "constant_with_warmup",
                    },
                    label="Use --lr_scheduler constant_with_warmup",
                )
            ],  # fmt: skip
            priority=55,
        )
    # -- sampling
    if s.get("--sample_prompts"):
        missing = [f for f in ("--t5", "--vae") if not s.get(f)]
        if missing:
            out.add(
                "sampling-models-missing",
                "missing-required-argument",
                Severity.ERROR,
                f"--sample_prompts without {' and '.join(missing)}",
                "Sampling loads T5 and the VAE before the DiT; without them training fails with "
                "`expected str, bytes or os.PathLike object, not NoneType`.",
                captures={"flags": " ".join(missing)},
                priority=60,
            )
        if task in ("i2v-14B", "flf2v-14B") and not s.get("--clip"):
            out.add(
                "sampling-clip-missing",
                "wrong-clip-model",
                Severity.WARNING,
                "Wan2.1 I2V sampling without --clip",
                "I2V samples with an image fail with `CLIP path is required for I2V training`.",
                priority=40,
            )
    # -- accelerate
    if windows and _multi_process(launch_args):
        out.add(
            "windows-multi-process",
            "windows-libuv",
            Severity.WARNING,
            "Several processes on Windows",
            "Windows torch builds have no libuv: multi-process launch fails with `use_libuv was requested but "
            "PyTorch was built without libuv support`.",
            fixes=[
                FixAction(
                    "flag_set",
                    {"step": "launch", "flag": "--num_processes", "value": "1"},
                    label="Launch one process",
                ),
                FixAction(
                    "env_set",
                    {"step": "train", "name": "USE_LIBUV", "value": "0"},
                    label="Set USE_LIBUV=0",
                ),
            ],  # fmt: skip
            priority=50,
        )


def _multi_process(launch_args: list[str]) -> bool:
    n = _launch_value(launch_args, "--num_processes")
    return "--multi_gpu" in launch_args or (n is not None and n.isdigit() and int(n) > 1)


def _launch_value(launch_args: list[str], flag: str) -> str | None:
    opts = accelerate_options()
    value = None
    i = 0
    while i < len(launch_args):
        tok = launch_args[i]
        name, eq, inline = tok.partition("=")
        spec = opts.get(name)
        if spec is not None and spec.name == flag:
            if eq:
                value = inline
            elif i + 1 < len(launch_args):
                value = launch_args[i + 1]
                i += 1
        i += 1
    return value


def _optimizer_ok(name: str) -> bool:
    if name.lower() in SPECIAL_OPTIMIZERS or "." in name:
        return True
    if name.lower().endswith("8bit"):
        return False  # only adamw8bit is mapped; others fall through to torch.optim and fail
    return name in TORCH_OPTIMIZERS or name == "Muon"


def _optimizer_fix(name: str) -> str | None:
    if name.lower().endswith("8bit"):
        hit = did_you_mean(name, [b.rsplit(".", 1)[1] for b in BNB_OPTIMIZERS])
        if hit:
            return f"bitsandbytes.optim.{hit}"
        return "adamw8bit" if "adam" in name.lower() else None
    return did_you_mean(name, [*SPECIAL_OPTIMIZERS, *TORCH_OPTIMIZERS])


def merge_config_file(state: ArgState, cwd: Path, out: _Out) -> None:
    """``--config_file``: its values (tables flattened) fill the options not given on the
    command line, as musubi-tuner's ``read_config_from_file`` does (values are not
    type-checked there, so a float ``timestep_boundary`` works in the file)."""
    value = state.get("--config_file") or ""
    if foreign_windows_path(value):
        return
    path = _resolve(cwd, value if value.endswith(".toml") else value + ".toml")
    try:
        import tomlkit

        data = tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()
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
    flat: dict[str, Any] = {}
    for key, val in data.items():
        if isinstance(val, dict):
            flat.update(val)
        else:
            flat[key] = val
    opts = script_options(STEP_SCRIPTS[state.step])
    for key, val in flat.items():
        spec = opts.get("--" + key)
        if spec is None or spec.name in state.values:
            continue  # the command line wins; unknown keys are kept silently by musubi-tuner
        if isinstance(val, bool):
            if val:
                state.values[spec.name] = []
        elif isinstance(val, list):
            state.values[spec.name] = [str(v) for v in val]
        elif val is not None:
            state.values[spec.name] = [str(val)]


def check_caching(state: ArgState, out: _Out) -> None:
    if state.step == "latents" and state.has("--one_frame") and not state.get("--clip"):
        out.add(
            "one-frame-without-clip",
            "wrong-clip-model",
            Severity.ERROR,
            "--one_frame needs --clip",
            "Latent caching asserts `clip is required for one frame training`.",
            priority=60,
        )


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
    out = _Out(step, location)
    state = scan_args(step, args, out)
    if launch_args:
        scan_args(step, launch_args, out, opts=accelerate_options(), fix_step="launch")
    if step == "train" and state.get("--config_file"):
        merge_config_file(state, cwd, out)
    check_required(state, out)
    infos = check_files(state, cwd, out) if check_paths else {}
    if step == "train":
        check_train(state, out, launch_args=launch_args or [], infos=infos, windows=windows)
    else:
        check_caching(state, out)
    return state, out.findings


def script_findings(
    parsed: ParsedCommand, cwd: Path, *, location: Location | None = None
) -> list[Finding]:
    """Is it a Wan script, and is it there?"""
    out = _Out(parsed.step or "any", location)
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
