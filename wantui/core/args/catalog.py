"""The argument catalog of the three Wan scripts and of ``accelerate launch``, as data.

``catalog.json`` is generated from musubi-tuner v0.3.4's parser code by ``gen_catalog``
with the same reader that reads the user's own checkout at run time
(:mod:`wantui.core.args.checkout`)
(accelerate's options were dumped once from accelerate 1.15's launch parser). On top of
it, :data:`KNOWN_BAD` lists options people pass that do not exist, with the real
replacement (docs/reference/wan-facts.md §3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

STEP_SCRIPTS = {
    "latents": "wan_cache_latents.py",
    "te": "wan_cache_text_encoder_outputs.py",
    "train": "wan_train_network.py",
}
SCRIPT_STEPS = {v: k for k, v in STEP_SCRIPTS.items()}

# Scripts of the same checkout for other architectures: a Wan user who runs one of these
# gets HunyuanVideo/FramePack/... behaviour. Value: the step it resembles.
OTHER_ARCH_SCRIPTS = {
    "cache_latents.py": "latents",
    "cache_text_encoder_outputs.py": "te",
    "hv_train_network.py": "train",
    "hv_train.py": "train",
    "fpack_cache_latents.py": "latents",
    "fpack_cache_text_encoder_outputs.py": "te",
    "fpack_train_network.py": "train",
    "flux_kontext_cache_latents.py": "latents",
    "flux_kontext_cache_text_encoder_outputs.py": "te",
    "flux_kontext_train_network.py": "train",
    "qwen_image_cache_latents.py": "latents",
    "qwen_image_cache_text_encoder_outputs.py": "te",
    "qwen_image_train_network.py": "train",
    "hv_1_5_cache_latents.py": "latents",
    "hv_1_5_cache_text_encoder_outputs.py": "te",
    "hv_1_5_train_network.py": "train",
    "wan_generate_video.py": "train",
}


@dataclass(frozen=True)
class ArgSpec:
    """One option of a script: its names, argparse type, choices, default, nargs, help."""

    name: str  # the canonical (first) name, e.g. "--blocks_to_swap"
    names: tuple[str, ...]
    type: str  # "flag" | "str" | "int" | "float" | "path" | "_int_or_float"
    required: bool = False
    default: Any = None
    nargs: str | int | None = None
    choices: tuple[str, ...] | None = None
    help: str = ""

    @property
    def takes_value(self) -> bool:
        return self.type != "flag"


@dataclass(frozen=True)
class Replacement:
    """What to use instead of an option that does not exist for a step."""

    kind: str  # "flag" (another option), "toml" (a dataset config key), "drop" (nothing)
    target: str = ""  # the flag or TOML key
    why: str = ""
    value: str | None = None  # a fixed value for the new flag (``--v2_2`` -> ``--task t2v-A14B``)


_HV = "a HunyuanVideo option; the Wan scripts do not have it"
# option -> {step or "*": Replacement}
KNOWN_BAD: dict[str, dict[str, Replacement]] = {
    "--train_batch_size": {
        "*": Replacement("toml", "batch_size", "the batch size is the dataset TOML's `batch_size`")
    },
    "--batch_size": {
        "train": Replacement(
            "toml",
            "batch_size",
            "training takes the batch size from the dataset TOML's `batch_size`",
        )
    },
    "--max_workers": {
        "train": Replacement(
            "flag",
            "--max_data_loader_n_workers",
            "the training option is --max_data_loader_n_workers",
        ),
        "*": Replacement("flag", "--num_workers", "the caching option is --num_workers"),
    },
    "--num_workers": {
        "train": Replacement(
            "flag",
            "--max_data_loader_n_workers",
            "the training option is --max_data_loader_n_workers",
        )
    },
    "--text_encoder2": {
        "*": Replacement(
            "flag",
            "--t5",
            "Wan's text encoder is T5, given with --t5 (text_encoder1/2 are HunyuanVideo's)",
        )
    },
    "--text_encoder1": {
        "*": Replacement("flag", "--t5", "Wan's text encoder is T5, given with --t5")
    },
    "--text_encoder": {
        "*": Replacement("flag", "--t5", "Wan's text encoder is T5, given with --t5")
    },
    "--text_encoder_dtype": {"*": Replacement("drop", "", _HV)},
    "--fp8_llm": {"*": Replacement("flag", "--fp8_t5", "the Wan option is --fp8_t5")},
    "--vae_chunk_size": {"*": Replacement("drop", "", _HV)},
    "--vae_tiling": {"*": Replacement("drop", "", _HV)},
    "--vae_spatial_tile_sample_min_size": {"*": Replacement("drop", "", _HV)},
    "--fp8_vae": {"*": Replacement("drop", "", "no Wan script stores the VAE in fp8")},
    "--output_dir": {
        "latents": Replacement(
            "drop", "", "caches go to each dataset's `cache_directory` in the TOML"
        ),
        "te": Replacement("drop", "", "caches go to each dataset's `cache_directory` in the TOML"),
    },
    "--latents_dir": {
        "*": Replacement(
            "drop", "", "training finds the caches through the dataset TOML's `cache_directory`"
        )
    },
    "--text_encoder_dir": {
        "*": Replacement(
            "drop", "", "training reads the T5 outputs from the `*_wan_te.safetensors` caches"
        )
    },
    "--v2_2": {
        "*": Replacement(
            "flag", "--task", "Wan2.2 is selected with --task t2v-A14B or i2v-A14B", "t2v-A14B"
        )
    },
    "--resolution": {
        "*": Replacement("toml", "resolution", "the resolution is the dataset TOML's `resolution`")
    },
    "--num_frames": {
        "*": Replacement(
            "toml", "target_frames", "frame counts are the dataset TOML's `target_frames`"
        )
    },
    "--target_frames": {
        "*": Replacement(
            "toml", "target_frames", "frame counts are the dataset TOML's `target_frames`"
        )
    },
    "--attn_mode": {
        "train": Replacement(
            "flag", "--sdpa", "--attn_mode belongs to wan_generate_video.py; training uses --sdpa"
        )
    },
    "--max_train_epoch": {"*": Replacement("flag", "--max_train_epochs", "")},
    "--epochs": {"*": Replacement("flag", "--max_train_epochs", "")},
    "--lr": {"*": Replacement("flag", "--learning_rate", "")},
    "--network_rank": {"*": Replacement("flag", "--network_dim", "the LoRA rank is --network_dim")},
    "--rank": {"*": Replacement("flag", "--network_dim", "the LoRA rank is --network_dim")},
    "--optimizer": {"*": Replacement("flag", "--optimizer_type", "")},
    "--save_every_n_step": {"*": Replacement("flag", "--save_every_n_steps", "")},
    "--xformer": {"*": Replacement("flag", "--xformers", "")},
    "--flash_attention": {"*": Replacement("flag", "--flash_attn", "")},
    "--flash-attn": {"*": Replacement("flag", "--flash_attn", "the option uses an underscore")},
    "--sage-attn": {
        "*": Replacement("flag", "--sdpa", "SageAttention is rejected for training; use --sdpa")
    },
    "--fp8": {
        "train": Replacement(
            "flag",
            "--fp8_base",
            "`--fp8` belongs to wan_generate_video.py; training stores the DiT in fp8 with --fp8_base",
        )
    },
    "--dit_low_noise": {
        "train": Replacement("flag", "--dit", "the low-noise DiT is given with --dit")
    },
    "--high_noise_dit": {"train": Replacement("flag", "--dit_high_noise", "")},
}

ATTENTION_FLAGS = ("--sdpa", "--flash_attn", "--sage_attn", "--xformers", "--flash3")
WAN22_TASKS = ("t2v-A14B", "i2v-A14B")
NETWORK_MODULES = (
    "networks.lora_wan",
    "musubi_tuner.networks.lora_wan",
    "networks.loha",
    "musubi_tuner.networks.loha",
    "networks.lokr",
    "musubi_tuner.networks.lokr",
)
# torch.optim classes (torch 2.x) and the names musubi-tuner maps itself (lower-cased)
TORCH_OPTIMIZERS = (
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "ASGD",
    "LBFGS",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
    "SparseAdam",
)
SPECIAL_OPTIMIZERS = ("adamw8bit", "adafactor", "adamw")
BNB_OPTIMIZERS = (
    "bitsandbytes.optim.PagedAdamW8bit",
    "bitsandbytes.optim.AdamW8bit",
    "bitsandbytes.optim.Lion8bit",
    "bitsandbytes.optim.PagedLion8bit",
)


@lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    return json.loads(Path(__file__).with_name("catalog.json").read_text(encoding="utf-8"))


def specs_of(options: list[dict[str, Any]]) -> dict[str, ArgSpec]:
    """Catalog entries (``names``, ``type``, ``nargs``...) as a name -> spec table."""
    out: dict[str, ArgSpec] = {}
    for o in options:
        names = tuple(o["names"])
        spec = ArgSpec(
            name=next((n for n in names if n.startswith("--")), names[0]),
            names=names,
            type="flag" if o["nargs"] == 0 else o["type"],  # nargs=0 actions are switches
            required=bool(o["required"]),
            default=o["default"],
            nargs=o["nargs"],
            choices=tuple(o["choices"]) if o["choices"] else None,
            help=o["help"],
        )
        for n in names:
            out[n] = spec
    return out


@cache
def script_options(script: str) -> dict[str, ArgSpec]:
    """Every option name (aliases included) of one Wan script -> its spec."""
    return specs_of(_raw()["scripts"][script])


@lru_cache(maxsize=1)
def accelerate_options() -> dict[str, ArgSpec]:
    return specs_of(_raw()["accelerate_launch"]["options"])


@lru_cache(maxsize=1)
def hunyuan_options() -> frozenset[str]:
    return frozenset(n for o in _raw()["scripts"]["hv_options"] for n in o["names"])


class _Scripts(dict):
    """``SCRIPTS["wan_train_network.py"]["--task"]`` -> ArgSpec, loaded on first use."""

    def __missing__(self, key: str) -> dict[str, ArgSpec]:
        if key not in STEP_SCRIPTS.values():
            raise KeyError(key)
        value = script_options(key)
        self[key] = value
        return value

    def keys(self):  # type: ignore[override]
        return STEP_SCRIPTS.values()


SCRIPTS: dict[str, dict[str, ArgSpec]] = _Scripts()


def replacement_for(flag: str, step: str) -> Replacement | None:
    table = KNOWN_BAD.get(flag)
    if not table:
        return None
    return table.get(step) or table.get("*")
