"""The model files a project names (which step, flag and role), and the finding builder
the model checks share (:func:`model_at`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wantui.core.args.options import project_view
from wantui.core.finding import Location
from wantui.core.fixactions import FixAction
from wantui.core.models import (
    ModelInfo,
    inspect_file,
)

if TYPE_CHECKING:
    from wantui.core.project import Project

# (step, flag) -> role. Training reads --vae/--t5/--clip only for --sample_prompts, but a
# wrong file there still fails, so they are checked wherever they are given.
MODEL_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("train", "--dit", "dit"),
    ("train", "--dit_high_noise", "dit"),
    ("latents", "--vae", "vae"),
    ("train", "--vae", "vae"),
    ("te", "--t5", "t5"),
    ("train", "--t5", "t5"),
    ("latents", "--clip", "clip"),
    ("train", "--clip", "clip"),
)
# role -> (catalog id for a wrong file, hub catalog name of the right file)
ROLE_CATALOG = {
    "dit": ("dit-wrong-file", None),
    "vae": ("vae-wrong-file", "vae"),
    "t5": ("wrong-t5-encoder", "t5"),
    "clip": ("wrong-clip-model", "clip"),
}
WAN22_TASKS = ("t2v-A14B", "i2v-A14B")
WAN21_CLIP_TASKS = ("i2v-14B", "flf2v-14B")  # Wan2.1 I2V: latents need --clip
DEFAULT_TASK = "t2v-14B"


@dataclass
class ModelRef:
    """One model file named by a step: where, which flag, what it is."""

    step: str
    flag: str
    role: str
    value: str  # as written on the command line
    path: Path  # resolved against the project folder
    info: ModelInfo


def project_models(project: Project) -> list[ModelRef]:
    """Inspect every model file named in the enabled steps (each file read once)."""
    seen: dict[Path, ModelInfo] = {}
    refs: list[ModelRef] = []
    for step, flag, role in MODEL_FLAGS:
        st = project.steps.get(step)
        if st is None or not st.enabled:
            continue
        value = project_view(project, step).get(flag)
        if not value:
            continue
        path = project.resolve(value)
        if path not in seen:
            seen[path] = inspect_file(path)
        refs.append(ModelRef(step, flag, role, value, path, seen[path]))
    return refs


def train_task(project: Project) -> str:
    """The training step's --task (musubi-tuner's default when absent)."""
    return project_view(project, "train").get("--task") or DEFAULT_TASK


def model_at(ref: ModelRef | None) -> dict[str, Any]:
    """What a model-file finding passes to ``emit`` besides its wording: origin "model",
    located at the file, its ref captured (path, flag, step, kind)."""
    if ref is None:
        return {"origin": "model"}
    return {
        "origin": "model",
        "location": Location(str(ref.path)),
        "captures": {
            "path": str(ref.path),
            "flag": ref.flag,
            "step": ref.step,
            "kind": ref.info.kind,
        },
    }


def download_fix(role: str, ref: ModelRef) -> list[FixAction]:
    """The download fix for a role the hub catalog knows (none for the DiT)."""
    name = ROLE_CATALOG[role][1]
    if name is None:
        return []
    return [
        FixAction(
            "download",
            {"name": name, "step": ref.step, "flag": ref.flag},
            label=f"Download the right {role.upper()} and point {ref.flag} at it",
        )
    ]


def describe(info: ModelInfo) -> str:
    """What a file is, in words (with the reason when it is unknown or corrupt)."""
    if info.kind in ("unknown", "corrupt"):
        return f"{info.kind} ({info.details.get('reason', '')})"
    return info.summary()
