"""Which inspected model file plays which role (DiTs, VAE, T5), and what is missing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.setup_defaults.training_settings import task_for


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
