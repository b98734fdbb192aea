"""Training-step checks musubi-tuner makes late (after loading the DiT) or never:
attention, optimizer, network module, output, logging, scheduler, sampling, launcher."""

from __future__ import annotations

from typing import Any

from wantui.core.args.catalog import (
    ATTENTION_FLAGS,
    BNB_OPTIMIZERS,
    NETWORK_MODULES,
    SPECIAL_OPTIMIZERS,
    TORCH_OPTIMIZERS,
)
from wantui.core.args.check_wan import (
    check_block_swap,
    check_fp8,
    check_precision,
    check_wan22_task,
)
from wantui.core.args.checkout import musubi_holds, musubi_name
from wantui.core.args.state import ArgState, StepFindings, multi_process
from wantui.core.fixactions import FixAction, windows_single_process_fixes
from wantui.core.similar import did_you_mean


def check_train(
    state: ArgState,
    out: StepFindings,
    *,
    launch_args: list[str],
    infos: dict[str, Any],
    windows: bool,
) -> None:
    """All checks of the training step's arguments, in the order they are reported."""
    s = state
    task = s.get("--task") or "t2v-14B"
    high = s.get("--dit_high_noise")
    check_attention(s, out)
    check_optimizer(s, out)
    check_network(s, out)
    check_output(s, out)
    check_wan22_task(s, out, task=task, high=high, infos=infos)
    check_precision(s, out, infos=infos, launch_args=launch_args)
    check_fp8(s, out, infos=infos)
    check_block_swap(s, out, task=task, high=high, infos=infos)
    check_logging(s, out)
    check_scheduler(s, out)
    check_sampling(s, out, task=task)
    check_launch(s, out, launch_args=launch_args, windows=windows)


def check_attention(s: ArgState, out: StepFindings) -> None:
    """Exactly one attention flag that can train."""
    given = [f for f in ATTENTION_FLAGS if s.has(f)]
    if not given:
        out.emit(
            "missing-attention-flag",
            fixes=[FixAction("flag_add", {"step": "train", "flag": "--sdpa"}, label="Add --sdpa")],
        )
    elif given[0] == "--sage_attn" or (given == ["--sage_attn"]):
        out.emit(
            "sage-attn-training",
            text={"what": "it", "why": ": `SageAttention doesn't support training currently`"},
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
        )
    elif s.has("--sage_attn"):
        out.emit(
            "sage-attn-training",
            text={
                "what": "--sage_attn",
                "why": " for training even next to another attention flag",
            },
            fixes=[
                FixAction(
                    "flag_remove",
                    {"step": "train", "flag": s.flag("--sage_attn")},
                    label="Remove --sage_attn",
                )
            ],
        )


def check_optimizer(s: ArgState, out: StepFindings) -> None:
    """--optimizer_type as musubi-tuner resolves it."""
    opt = s.get("--optimizer_type")
    if not opt:
        out.emit(
            "missing-optimizer",
            fixes=[
                FixAction(
                    "flag_set" if s.has("--optimizer_type") else "flag_add",
                    {"step": "train", "flag": s.flag("--optimizer_type"), "value": "adamw8bit"},
                    label="Use --optimizer_type adamw8bit",
                )
            ],
        )
    elif not _optimizer_ok(opt):
        better = _optimizer_fix(opt)
        out.emit(
            "unknown-optimizer",
            captures={"optimizer": opt},
            text={"use": f" Use `{better}`." if better else None},
            fixes=[
                FixAction(
                    "flag_set",
                    {"step": "train", "flag": s.flag("--optimizer_type"), "value": better},
                    label=f"Use --optimizer_type {better}",
                )
            ]
            if better
            else [],
        )


def check_network(s: ArgState, out: StepFindings) -> None:
    """--network_module and its companions."""
    net = s.get("--network_module")
    if net is None or net not in NETWORK_MODULES:
        why = (
            "musubi-tuner prints `import network module: None` and fails with "
            "`'NoneType' object has no attribute 'startswith'` after loading the DiT."
            if net is None
            else "`networks.lora` is HunyuanVideo's (`No LoRA modules found`)"
            if net.endswith("networks.lora")
            else f"`No module named '{net}'` after loading the DiT"
        )
        out.emit(
            "wrong-network-module",
            text={
                "lead": "No " if net is None else None,
                "rest": f" {net} is not a Wan LoRA module" if net is not None else None,
                "why": why,
                "use": ". Use `networks.lora_wan`." if net is not None else None,
            },
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
        )


def check_output(s: ArgState, out: StepFindings) -> None:
    """--output_name and --output_dir: an error in every version, but what happens differs
    (v0.3.4: a crash at the save, the run lost; v0.3.5+: a ValueError at startup)."""
    early = (
        f"{musubi_name()} stops at startup with a ValueError before loading any model"
        " (checked since v0.3.5, PR #1070)."
        if musubi_holds(">=0.3.5")
        else None
    )
    if not s.get("--output_name"):
        out.emit(
            "output-name-missing",
            text={
                "consequence": early
                or "Training runs to the end, names checkpoints `None-step00000050.safetensors`"
                " and then crashes at the final save (`unsupported operand type(s) for +:"
                " 'NoneType' and 'str'`): the whole run is lost (musubi-tuner <=0.3.4)."
            },
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--output_name", "value": "wan_lora"},
                    label="Add --output_name wan_lora",
                )
            ],  # fmt: skip
        )
    if not s.get("--output_dir"):
        out.emit(
            "output-dir-missing",
            text={
                "consequence": early
                or "The first save fails with `expected str, bytes or os.PathLike object, not"
                " NoneType` (musubi-tuner <=0.3.4)."
            },
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--output_dir", "value": "output"},
                    label="Add --output_dir output",
                )
            ],  # fmt: skip
        )


def check_logging(s: ArgState, out: StepFindings) -> None:
    """--log_with needs --logging_dir."""
    log_with = s.get("--log_with")
    if log_with in ("tensorboard", "all") and not s.get("--logging_dir"):
        out.emit(
            "logging-dir-missing",
            text={"log_with": log_with},
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--logging_dir", "value": "logs"},
                    label="Add --logging_dir logs",
                )
            ],  # fmt: skip
        )


def check_scheduler(s: ArgState, out: StepFindings) -> None:
    """--lr_scheduler with warmup."""
    sched = s.get("--lr_scheduler") or "constant"
    warm = s.get("--lr_warmup_steps")
    if sched == "constant" and warm not in (None, "0", "0.0", "0%"):
        out.emit(
            "constant-scheduler-with-warmup",
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
        )


def check_sampling(s: ArgState, out: StepFindings, *, task: str) -> None:
    """Sampling during training needs its models."""
    if s.get("--sample_prompts"):
        missing = [f for f in ("--t5", "--vae") if not s.get(f)]
        if missing:
            out.emit(
                "sampling-models-missing",
                captures={"flags": " ".join(missing)},
                text={"missing": " and ".join(missing)},
            )
        if task in ("i2v-14B", "flf2v-14B") and not s.get("--clip"):
            out.emit("sampling-clip-missing")


def check_launch(s: ArgState, out: StepFindings, *, launch_args: list[str], windows: bool) -> None:
    """The accelerate launcher on this platform."""
    if windows and multi_process(launch_args):
        out.emit("windows-multi-process", fixes=windows_single_process_fixes())


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
