"""Build a real wantui project whose steps are the fake musubi scripts (tests, TUI tests)."""

from __future__ import annotations

import sys
from pathlib import Path

from wantui.core.project import Project, load_project, project_to_toml
from wantui.core.project import Step as _Step

FAKE_MUSUBI = Path(__file__).resolve().parent / "musubi"
SCRIPTS = {
    "latents": "wan_cache_latents.py",
    "te": "wan_cache_text_encoder_outputs.py",
    "train": "wan_train_network.py",
}


def make_project(
    root: Path,
    modes: dict[str, str] | None = None,
    *,
    env: dict[str, dict[str, str]] | None = None,
    steps: tuple[str, ...] = ("latents", "te", "train"),
    train_launcher: str = "python",
    python: str | None = None,
) -> Project:
    """Write ``root/wantui.toml`` with fake steps and load it back through load_project.

    ``modes`` maps a step to its FAKE_MODE (default ok); ``env`` adds per-step variables.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.toml").write_text(
        '[general]\nresolution = [96, 64]\ncaption_extension = ".txt"\n\n'
        '[[datasets]]\nvideo_directory = "data/vid"\ncache_directory = "cache/vid"\ntarget_frames = [1, 13]\n'
    )
    proj = Project(
        root=root,
        name="fake",
        musubi_dir=str(FAKE_MUSUBI),
        python=python or sys.executable,
        dataset_config="dataset.toml",
    )
    for name in steps:
        step_env = {"FAKE_MODE": (modes or {}).get(name, "ok"), **(env or {}).get(name, {})}
        proj.steps[name] = _Step(
            name=name,
            script=SCRIPTS[name],
            args=["--mixed_precision", "bf16"] if name == "train" else [],
            launcher=train_launcher if name == "train" else "python",
            env=step_env,
        )
    (root / "wantui.toml").write_text(project_to_toml(proj))
    return load_project(root)
