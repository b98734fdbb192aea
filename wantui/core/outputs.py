"""Where the training step writes: its ``--output_dir`` and the finished LoRA."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def output_dir(project: Any) -> Path | None:
    """The training step's ``--output_dir`` (where checkpoints appear), resolved against
    the project folder; None when the step names none."""
    from wantui.core.args.options import project_view

    value = project_view(project, "train").get("--output_dir")
    return project.resolve(value) if value else None


def lora_path(project: Any) -> Path | None:
    """``output_dir/output_name.safetensors``: the file musubi-tuner saves when training
    ends (``train_utils.get_last_ckpt_name``). None when either flag is missing."""
    from wantui.core.args.options import project_view

    folder = output_dir(project)
    name = project_view(project, "train").get("--output_name")
    return folder / f"{name}.safetensors" if folder is not None and name else None
