"""Decisions behind the guided setup, kept headless so they are tested without Textual.

Where the musubi-tuner checkout and its interpreter are, which training settings suit a
Wan2.2 DiT on the GPU the probe found, what the dataset TOML says, and how all of that
becomes a :class:`~wantui.core.project.Project`. The TUI only asks and shows.
"""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from wantui.core.project import DEFAULT_SCRIPTS, Project, Step

INSTALL_HELP = """\
musubi-tuner was not found. To get it (Linux, a CUDA GPU):

  git clone https://github.com/kohya-ss/musubi-tuner
  cd musubi-tuner
  python3 -m venv .venv && . .venv/bin/activate
  pip install torch torchvision --index-url https://download.pytorch.org/whl/cu124
  pip install -e .

Install torch first, then musubi-tuner itself (`pip install -e .`), in the same venv."""

# A checkout has the repo-root wrapper scripts (or at least the package sources).
_MARKERS = ("wan_train_network.py", "src/musubi_tuner/wan_train_network.py")
# Where people usually put a venv inside the checkout, POSIX and Windows.
_VENV_PYTHONS = (
    ".venv/bin/python",
    "venv/bin/python",
    "env/bin/python",
    ".venv/Scripts/python.exe",
    "venv/Scripts/python.exe",
)

# Sizes of one Wan 14B expert, in GiB, by how its weights are stored in VRAM.
EXPERT_GIB = {"bf16": 28.0, "fp8": 14.0}
BLOCKS_14B = 40
# VRAM kept free for activations, the LoRA, optimizer state and CUDA's own use when
# training video with gradient checkpointing at ~832x480.
HEADROOM_GIB = 16.0
NO_GPU_ASSUMED_GIB = 24.0


def is_musubi_checkout(folder: Path) -> bool:
    return any((folder / m).is_file() for m in _MARKERS)


def find_musubi_checkouts(cwd: Path, home: Path | None = None) -> list[Path]:
    """Checkouts in the cwd, its parents, beside it and in the usual home folders."""
    home = home if home is not None else Path.home()
    candidates: list[Path] = [cwd, *cwd.parents]
    candidates += [cwd / "musubi-tuner", cwd.parent / "musubi-tuner"]
    candidates += [
        home / "musubi-tuner",
        home / "src" / "musubi-tuner",
        Path("/workspace/musubi-tuner"),
    ]
    found: list[Path] = []
    for c in candidates:
        try:
            if c.is_dir() and is_musubi_checkout(c):
                r = c.resolve()
                if r not in found:
                    found.append(r)
        except OSError:  # unreadable parent folders are simply not candidates
            continue
    return found


def find_interpreters(checkout: Path, env: dict[str, str] | None = None) -> list[str]:
    """Interpreters that may have musubi-tuner installed: the checkout's venvs first, then
    the active venv. The probe (run_probe) decides which one really works."""
    env = dict(os.environ) if env is None else env
    out: list[str] = []
    for rel in _VENV_PYTHONS:
        p = checkout / rel
        if p.is_file():
            out.append(str(p))
    venv = env.get("VIRTUAL_ENV")
    if venv:
        for rel in ("bin/python", "Scripts/python.exe"):
            p = Path(venv) / rel
            if p.is_file() and str(p) not in out:
                out.append(str(p))
    return out


@dataclass
class TrainingSettings:
    """Everything the setup decides for the training step, with the reasons shown to the user."""

    task: str = "t2v-A14B"
    mixed_precision: str = "bf16"
    optimizer: str = "adamw8bit"
    learning_rate: str = "2e-4"
    network_dim: int = 32
    network_alpha: int = 32
    fp8_base: bool = False
    fp8_scaled: bool = False
    blocks_to_swap: int = 0
    offload_inactive_dit: bool = False
    gradient_checkpointing: bool = True
    max_train_epochs: int = 16
    save_every_n_epochs: int = 2
    output_name: str = "wan22-lora"
    output_dir: str = "output"
    num_processes: int = 1
    reasons: list[str] = field(default_factory=list)


def task_for(kind: str | None, details: dict | None = None) -> str:
    """``i2v-A14B`` for an image-to-video DiT (36 input channels), else ``t2v-A14B``.

    ``kind``/``details`` come from model inspection; Wan2.2 is only selected by the task."""
    text = (kind or "").lower()
    d = details or {}
    hints = (str(d.get("family", "")), str(d.get("suggested_task", "")), str(d.get("task", "")))
    if "i2v" in text or d.get("in_dim") == 36 or any(h.startswith("i2v") for h in hints):
        return "i2v-A14B"
    return "t2v-A14B"


def precision_for(dtype: str | None) -> str:
    """The script's ``--mixed_precision`` must match a bf16/fp16 DiT (the dtype assertion);
    fp8 and fp32 files are not checked and compute in bf16."""
    d = (dtype or "").lower()
    is_fp16 = d in ("fp16", "f16") or ("float16" in d and "bfloat16" not in d)
    return "fp16" if is_fp16 else "bf16"


def choose_settings(
    *,
    dit_dtype: str | None,
    dit_kind: str | None = None,
    dit_details: dict | None = None,
    two_experts: bool = False,
    vram_gib: float | None = None,
    gpu_count: int = 1,
    bitsandbytes_ok: bool = True,
    windows: bool | None = None,
    output_name: str = "wan22-lora",
    output_dir: str = "output",
) -> TrainingSettings:
    """Sound Wan2.2 defaults for this DiT and this GPU."""
    windows = sys.platform == "win32" if windows is None else windows
    s = TrainingSettings(output_name=output_name, output_dir=output_dir)
    s.task = task_for(dit_kind, dit_details)
    s.reasons.append(
        f"--task {s.task}: Wan2.2 is only selected by the task (the default is Wan2.1)"
    )
    s.mixed_precision = precision_for(dit_dtype)
    s.reasons.append(
        f"--mixed_precision {s.mixed_precision}: matches the DiT's {dit_dtype or 'unknown'} weights"
    )
    if bitsandbytes_ok:
        s.optimizer = "adamw8bit"
        s.reasons.append("--optimizer_type adamw8bit: bitsandbytes works in the pipeline's Python")
    else:
        s.optimizer = "adamw"
        s.reasons.append("--optimizer_type adamw: bitsandbytes is not usable there")

    if vram_gib is None:
        vram = NO_GPU_ASSUMED_GIB
        s.reasons.append(f"no GPU found: memory settings assume {vram:.0f} GiB")
    else:
        vram = vram_gib
    budget = max(vram - HEADROOM_GIB, 0.0)
    experts = 2 if two_experts else 1
    file_is_fp8 = "float8" in (dit_dtype or "").lower() or "fp8" in (dit_dtype or "").lower()
    if not file_is_fp8 and experts * EXPERT_GIB["bf16"] <= budget:
        s.reasons.append(
            f"{experts} expert(s) in 16-bit fit in {vram:.0f} GiB: no fp8, no block swap"
        )
    else:
        s.fp8_base = True
        # scaling needs 16-bit source weights (an fp8 file cannot be scaled again)
        s.fp8_scaled = not file_is_fp8
        resident = experts
        if experts == 2 and 2 * EXPERT_GIB["fp8"] > budget:
            s.offload_inactive_dit = True  # keeps one expert in VRAM at a time
            resident = 1
        need = resident * EXPERT_GIB["fp8"]
        if need > budget:
            per_block = resident * EXPERT_GIB["fp8"] / BLOCKS_14B
            swap = math.ceil(BLOCKS_14B - budget / per_block)
            s.blocks_to_swap = min(max(swap, 1), BLOCKS_14B - 1)
            # block swap and offloading the inactive DiT cannot be combined
            s.offload_inactive_dit = False
        s.reasons.append(
            f"{vram:.0f} GiB: --fp8_base{' --fp8_scaled' if s.fp8_scaled else ''}"
            + (f", --blocks_to_swap {s.blocks_to_swap}" if s.blocks_to_swap else "")
            + (", --offload_inactive_dit" if s.offload_inactive_dit else "")
        )
    if gpu_count > 1 and not windows:
        s.num_processes = gpu_count
        s.reasons.append(f"{gpu_count} GPUs: data-parallel training through accelerate")
    elif gpu_count > 1:
        s.reasons.append(
            "several GPUs on Windows: one process (multi-GPU fails on libuv); use WSL2 for more"
        )
    return s


def train_args(s: TrainingSettings, *, dit: str, dit_high_noise: str | None = None) -> list[str]:
    """The training script's argv (without --dataset_config, which the project adds)."""
    args = ["--task", s.task, "--dit", dit]
    if dit_high_noise:
        args += ["--dit_high_noise", dit_high_noise]
    args += ["--mixed_precision", s.mixed_precision, "--sdpa"]
    args += ["--optimizer_type", s.optimizer, "--learning_rate", s.learning_rate]
    if s.gradient_checkpointing:
        args.append("--gradient_checkpointing")
    args += ["--network_module", "networks.lora_wan", "--network_dim", str(s.network_dim)]
    args += ["--network_alpha", str(s.network_alpha)]
    args += ["--timestep_sampling", "shift", "--discrete_flow_shift", "3.0"]
    args += ["--max_data_loader_n_workers", "2", "--persistent_data_loader_workers"]
    args += [
        "--max_train_epochs",
        str(s.max_train_epochs),
        "--save_every_n_epochs",
        str(s.save_every_n_epochs),
    ]
    args += ["--seed", "42", "--output_dir", s.output_dir, "--output_name", s.output_name]
    if s.fp8_base:
        args.append("--fp8_base")
    if s.fp8_scaled:
        args.append("--fp8_scaled")
    if s.blocks_to_swap:
        args += ["--blocks_to_swap", str(s.blocks_to_swap)]
    if s.offload_inactive_dit:
        args.append("--offload_inactive_dit")
    return args


def launch_args(s: TrainingSettings) -> list[str]:
    """Explicit accelerate flags, so accelerate never guesses (e.g. multi-GPU without a config)."""
    out = ["--num_cpu_threads_per_process", "1", "--num_processes", str(s.num_processes)]
    out += ["--num_machines", "1", "--mixed_precision", s.mixed_precision, "--dynamo_backend", "no"]
    if s.num_processes > 1:
        out.insert(0, "--multi_gpu")
    return out


def dataset_toml(
    media_dir: str,
    *,
    cache_dir: str | None = None,
    images: bool = False,
    resolution: tuple[int, int] = (832, 480),
    target_frames: tuple[int, ...] = (1, 25, 45),
    caption_extension: str = ".txt",
) -> str:
    """A valid musubi-tuner dataset TOML for one folder (forward slashes, 4N+1 frames)."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("written by wantui setup; paths are relative to the project folder"))
    general = tomlkit.table()
    general["resolution"] = list(resolution)
    general["caption_extension"] = caption_extension
    general["batch_size"] = 1
    general["enable_bucket"] = True
    general["bucket_no_upscale"] = False
    doc["general"] = general
    entry = tomlkit.table()
    media = media_dir.replace("\\", "/")
    entry["image_directory" if images else "video_directory"] = media
    # the cache must not be the media folder when another dataset is added later
    entry["cache_directory"] = (cache_dir or media.rstrip("/") + "_cache").replace("\\", "/")
    if not images:
        entry["target_frames"] = list(target_frames)
        entry["frame_extraction"] = "head"
    aot = tomlkit.aot()
    aot.append(entry)
    doc["datasets"] = aot
    return tomlkit.dumps(doc)


def build_project(
    root: Path,
    *,
    musubi_dir: str,
    python: str,
    dataset_config: str,
    vae: str,
    t5: str,
    dit: str,
    dit_high_noise: str | None,
    settings: TrainingSettings,
    name: str | None = None,
    vram_gib: float | None = None,
) -> Project:
    """The three steps as a Project, ready for ``project_to_toml``."""
    project = Project(
        root=root, name=name or settings.output_name, musubi_dir=musubi_dir, python=python
    )
    project.dataset_config = dataset_config
    project.steps["latents"] = Step("latents", DEFAULT_SCRIPTS["latents"], ["--vae", vae])
    te_args = ["--t5", t5, "--batch_size", "16"]
    if vram_gib is not None and vram_gib < 16:
        te_args.append("--fp8_t5")  # the bf16 T5 alone needs about 11 GiB
    project.steps["te"] = Step("te", DEFAULT_SCRIPTS["te"], te_args)
    project.steps["train"] = Step(
        "train",
        DEFAULT_SCRIPTS["train"],
        train_args(settings, dit=dit, dit_high_noise=dit_high_noise),
        launcher="accelerate",
        launch_args=launch_args(settings),
        env={"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"},
    )
    return project


@dataclass
class ModelChoice:
    """Which inspected file plays which role, and catalog names for what is missing."""

    dit: Any = None  # the low-noise (or only) expert
    dit_high_noise: Any = None
    vae: Any = None
    t5: Any = None
    missing: dict[str, str] = field(default_factory=dict)  # role -> hub catalog name
    problems: list[str] = field(default_factory=list)


_HIGH = re.compile(r"high[_-]?noise", re.I)


def assign_models(infos: list[Any]) -> ModelChoice:
    """Pick files by what their headers say (``ModelInfo.kind``/``details``), never by name
    alone; the file name only tells the high-noise expert from the low-noise one, which
    share one architecture."""
    choice = ModelChoice()
    dits = [m for m in infos if m.kind == "wan-dit" and m.details.get("params") == "14B"]
    wan22 = [m for m in dits if m.details.get("wan_version") == "2.2"] or dits
    for m in wan22:
        if _HIGH.search(Path(m.path).name):
            choice.dit_high_noise = choice.dit_high_noise or m
        else:
            choice.dit = choice.dit or m
    if choice.dit is None and choice.dit_high_noise is not None:
        choice.problems.append("only a high-noise DiT was found; the low-noise one is needed")
    choice.vae = next(
        (
            m
            for m in infos
            if m.kind == "wan-vae"
            and m.details.get("layout") == "wan"
            and str(m.details.get("version", "2.1")).startswith("2.1")
        ),
        None,
    )
    choice.t5 = next(
        (m for m in infos if m.kind == "t5" and m.details.get("layout") == "wan"), None
    )
    for m in infos:
        if m.kind == "t5" and m.details.get("layout") != "wan":
            choice.problems.append(
                f"{Path(m.path).name}: T5 in the {m.details.get('layout')} layout, musubi cannot load it"
            )
        if m.kind == "corrupt":
            choice.problems.append(f"{Path(m.path).name}: damaged file")
    family = (
        "i2v"
        if choice.dit is not None and task_for(None, choice.dit.details).startswith("i2v")
        else "t2v"
    )
    if choice.dit is None:
        choice.missing["dit"] = f"wan2.2-{family}-low"
    if choice.vae is None:
        choice.missing["vae"] = "vae-safetensors"
    if choice.t5 is None:
        choice.missing["t5"] = "t5"
    return choice
