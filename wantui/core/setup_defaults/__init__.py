"""Decisions behind the guided setup, kept headless so they are tested without Textual.

Where the musubi-tuner checkout and its interpreter are (``musubi_checkout``), which
training settings suit a Wan2.2 DiT on the GPU the probe found (``training_settings``),
the training argv and accelerate flags (``command_lines``), the dataset TOML
(``dataset_file``), which model file plays which role (``model_roles``), and how it all
becomes a :class:`~wantui.core.project.Project` (``project_build``). The TUI only asks
and shows.
"""

from __future__ import annotations

from wantui.core.setup_defaults.command_lines import launch_args, train_args
from wantui.core.setup_defaults.dataset_file import dataset_toml
from wantui.core.setup_defaults.model_roles import ModelChoice, assign_models
from wantui.core.setup_defaults.musubi_checkout import (
    INSTALL_HELP,
    find_interpreters,
    find_musubi_checkouts,
    install_help,
    is_musubi_checkout,
)
from wantui.core.setup_defaults.project_build import build_project
from wantui.core.setup_defaults.training_settings import (
    BLOCKS_14B,
    EXPERT_GIB,
    HEADROOM_GIB,
    NO_GPU_ASSUMED_GIB,
    TrainingSettings,
    choose_settings,
    precision_for,
    task_for,
)

__all__ = [
    "BLOCKS_14B",
    "EXPERT_GIB",
    "HEADROOM_GIB",
    "INSTALL_HELP",
    "NO_GPU_ASSUMED_GIB",
    "ModelChoice",
    "TrainingSettings",
    "assign_models",
    "build_project",
    "choose_settings",
    "dataset_toml",
    "find_interpreters",
    "install_help",
    "find_musubi_checkouts",
    "is_musubi_checkout",
    "launch_args",
    "precision_for",
    "task_for",
    "train_args",
]
