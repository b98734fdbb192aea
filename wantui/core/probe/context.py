"""What every probe check reads: the probe's report and the project's flags, unpacked once;
the constants the checks share. The checks ``emit`` declared ids with origin "probe"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wantui.core.args.options import ArgView, launch_view, project_view

if TYPE_CHECKING:
    from wantui.core.models import ModelInfo
    from wantui.core.project import Project


GiB = 1024**3

# musubi-tuner 0.3.4's pyproject dependencies (distribution names); opencv has variants
REQUIRED = (
    "accelerate",
    "av",
    "diffusers",
    "einops",
    "safetensors",
    "toml",
    "transformers",
    "voluptuous",
    "ftfy",
    "easydict",
    "sentencepiece",
)
OPENCV = ("opencv-python", "opencv-python-headless", "opencv-contrib-python")

# attention flag -> (module musubi imports, NameError it dies with at the first step)
ATTENTION = {
    "--xformers": ("xformers", "name 'xops' is not defined"),
    "--flash_attn": ("flash_attn", "name 'flash_attn' is not defined"),
    "--flash3": ("flash_attn_interface", "name 'flash_attn_interface' is not defined"),
}

# DiT parameter counts, for memory estimates
PARAMS = {"1.3B": 1.42e9, "14B": 14.3e9, "5B": 5.0e9}
BLOCKS = {"1.3B": 30, "14B": 40, "5B": 30}


def gib_text(n: float | int | None) -> str:
    return "?" if n is None else f"{n / GiB:.1f} GiB"


def _launch(project: Project | None) -> tuple[str | None, ArgView]:
    if project is None or "train" not in project.steps:
        return None, launch_view([])
    st = project.steps["train"]
    return st.launcher, launch_view(st.launch_args)


def _pip(data: dict[str, Any]) -> str:
    exe = (data.get("python") or {}).get("executable") or "python"
    return f"{exe} -m pip install"


def lora_bytes(params: str, rank: int) -> int:
    """Size of a bf16 LoRA on every attention and FFN linear of the DiT."""
    dim, layers, ffn = {
        "1.3B": (1536, 30, 8960),
        "14B": (5120, 40, 13824),
        "5B": (3072, 30, 14336),
    }.get(params, (5120, 40, 13824))
    per_block = 8 * (dim + dim) + 2 * (dim + ffn)
    return per_block * layers * rank * 2


# what a probe report holds, in the order the script fills it
SECTIONS = (
    "python",
    "platform",
    "env",
    "versions",
    "tensorboard",
    "accelerate",
    "musubi",
    "tokenizers",
    "disk",
    "shm",
    "torch",
    "bitsandbytes",
    "attention",
    "nvidia_smi",
)


def unknown_sections(data: dict[str, Any]) -> set[str]:
    """Sections that failed (``{"probe_error": ...}``) or, in a report the probe cut short
    or that failed part-way, are absent."""
    out = {k for k, v in data.items() if isinstance(v, dict) and "probe_error" in v}
    if data.get("partial") or data.get("probe_error"):
        out |= {k for k in SECTIONS if k not in data}
    return out


@dataclass
class ProbeContext:
    """A probe report and the project's flags, as the checks read them."""

    data: dict[str, Any]
    project: Project | None
    checkout: str | None
    dit: ModelInfo | None
    train: ArgView  # the training step's arguments, read by the command model
    launcher: str | None
    launch_args: ArgView
    plat: dict[str, Any]
    windows: bool
    torch: dict[str, Any]
    versions: dict[str, Any]
    pip: str
    # sections the probe could not fill (a part that raised, or a report cut short by the
    # time budget) say nothing: no finding may be drawn from their absence
    unknown: set[str]

    @classmethod
    def of(
        cls,
        data: dict[str, Any],
        *,
        project: Project | None = None,
        checkout: str | None = None,
        dit: ModelInfo | None = None,
    ) -> ProbeContext:
        """Unpack a report and a project once for all the checks."""
        launcher, launch_args = _launch(project)
        plat = data.get("platform") or {}
        return cls(
            data=data,
            project=project,
            checkout=checkout,
            dit=dit,
            train=project_view(project, "train"),
            launcher=launcher,
            launch_args=launch_args,
            plat=plat,
            windows=bool(plat.get("windows")),
            torch=data.get("torch") or {},
            versions=data.get("versions") or {},
            pip=_pip(data),
            unknown=unknown_sections(data),
        )


def capability(c: str) -> float:
    try:
        return float(c)
    except (TypeError, ValueError):
        return 0.0


def as_int(v: Any) -> int:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return 0
