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
from wantui.core.finding import Severity
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


def check_optimizer(s: ArgState, out: StepFindings) -> None:
    """--optimizer_type as musubi-tuner resolves it."""
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


def check_network(s: ArgState, out: StepFindings) -> None:
    """--network_module and its companions."""
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


def check_output(s: ArgState, out: StepFindings) -> None:
    """--output_name and --output_dir: an error in every version, but what happens differs
    (v0.3.4: a crash at the save, the run lost; v0.3.5+: a ValueError at startup)."""
    early = musubi_holds(">=0.3.5")
    if not s.get("--output_name"):
        out.add(
            "output-name-missing",
            "output-name-missing",
            Severity.ERROR,
            "No --output_name",
            (
                f"{musubi_name()} stops at startup with a ValueError before loading any model"
                " (checked since v0.3.5, PR #1070)."
                if early
                else "Training runs to the end, names checkpoints `None-step00000050.safetensors`"
                " and then crashes at the final save (`unsupported operand type(s) for +:"
                " 'NoneType' and 'str'`): the whole run is lost (musubi-tuner <=0.3.4)."
            ),
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
            (
                f"{musubi_name()} stops at startup with a ValueError before loading any model"
                " (checked since v0.3.5, PR #1070)."
                if early
                else "The first save fails with `expected str, bytes or os.PathLike object, not"
                " NoneType` (musubi-tuner <=0.3.4)."
            ),
            fixes=[
                FixAction(
                    "flag_add",
                    {"step": "train", "flag": "--output_dir", "value": "output"},
                    label="Add --output_dir output",
                )
            ],  # fmt: skip
            priority=75,
        )


def check_logging(s: ArgState, out: StepFindings) -> None:
    """--log_with needs --logging_dir."""
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


def check_scheduler(s: ArgState, out: StepFindings) -> None:
    """--lr_scheduler with warmup."""
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


def check_sampling(s: ArgState, out: StepFindings, *, task: str) -> None:
    """Sampling during training needs its models."""
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


def check_launch(s: ArgState, out: StepFindings, *, launch_args: list[str], windows: bool) -> None:
    """The accelerate launcher on this platform."""
    if windows and multi_process(launch_args):
        out.add(
            "windows-multi-process",
            "windows-libuv",
            Severity.WARNING,
            "Several processes on Windows",
            "Windows torch builds have no libuv: multi-process launch fails with `use_libuv was requested but "
            "PyTorch was built without libuv support`.",
            fixes=windows_single_process_fixes(),
            priority=50,
        )


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
