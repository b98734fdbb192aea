"""The setup's choices as a :class:`~wantui.core.project.Project` (three steps)."""

from __future__ import annotations

from pathlib import Path

from wantui.core.project import DEFAULT_SCRIPTS, Project, Step
from wantui.core.setup_defaults.command_lines import launch_args, train_args
from wantui.core.setup_defaults.training_settings import TrainingSettings


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
