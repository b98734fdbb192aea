"""What the planner reads: each step's options through the one argument reader
(core/args/options.py; a pasted command becomes the project `wantui import` would write),
the dataset config and its media, the DiT and T5 headers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wantui.core.args.options import ArgView, project_launch, project_view
from wantui.core.dataset.schema import round_target_frames
from wantui.core.errors import WantuiError
from wantui.core.plan.arch import ceil_div, tokens

if TYPE_CHECKING:
    from wantui.core.project import Project

DEFAULT_RESOLUTION = (960, 544)  # musubi-tuner's dataset default


@dataclass
class Bucket:
    width: int
    height: int
    frames: int
    items: int  # items per epoch (repeats included); 0 when the media are not known
    batch: int

    @property
    def seq(self) -> int:
        return tokens(self.width, self.height, self.frames)


@dataclass
class DatasetPlan:
    buckets: list[Bucket] = field(default_factory=list)
    known_items: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def peak(self) -> Bucket | None:
        return max(self.buckets, key=lambda b: b.seq * b.batch, default=None)

    def batches_per_epoch(self) -> int:
        return sum(ceil_div(b.items, b.batch) for b in self.buckets)

    def mean_seq(self) -> float:
        weight = sum(ceil_div(b.items, b.batch) for b in self.buckets)
        if not weight:
            peak = self.peak
            return float(peak.seq) if peak else 0.0
        return sum(b.seq * ceil_div(b.items, b.batch) for b in self.buckets) / weight


def _resolution(value: Any) -> tuple[int, int]:
    if isinstance(value, bool):
        return DEFAULT_RESOLUTION
    if isinstance(value, int) and value > 0:
        return value, value
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    return DEFAULT_RESOLUTION


def read_dataset(path: Path, cwd: Path) -> DatasetPlan:
    """Buckets of a dataset config: resolution (as the largest bucket), frames after 4N+1
    rounding, batch size, items x repeats from the media musubi-tuner will find."""
    from wantui.core.dataset.load import load_dataset_config
    from wantui.core.dataset.scan import scan_datasets

    cfg = load_dataset_config(path)  # WantuiError names the file and line
    scans = scan_datasets(cfg, cwd)
    out = DatasetPlan(known_items=True)
    general = cfg.general
    for entry, scan in zip(cfg.datasets, scans):

        def get(key: str, default: Any, entry: dict[str, Any] = entry) -> Any:
            value = entry.get(key, general.get(key))
            return default if value is None else value

        w, h = _resolution(get("resolution", list(DEFAULT_RESOLUTION)))
        batch = get("batch_size", 1)
        batch = batch if isinstance(batch, int) and batch > 0 else 1
        repeats = get("num_repeats", 1)
        repeats = repeats if isinstance(repeats, int) and repeats > 0 else 1
        media = len(scan.media)
        if not scan.exists:
            out.known_items = False
        if scan.kind == "image":
            out.buckets.append(Bucket(w, h, 1, media * repeats, batch))
            continue
        targets = get("target_frames", [1])
        if not (isinstance(targets, list) and targets and all(type(t) is int for t in targets)):
            targets = [1]
        extraction = get("frame_extraction", "head")
        if extraction not in ("head", None):
            out.notes.append(
                f"dataset {scan.index + 1}: frame_extraction {extraction!r} counted as one"
                " item per clip and target (head); chunk/slide/uniform make more"
            )
        if extraction == "full":
            max_frames = get("max_frames", 129)
            targets = [max_frames if isinstance(max_frames, int) else 129]
        for t in round_target_frames([t for t in targets if t > 0] or [1]):
            usable = media - len(scan.short.get(t, []))
            out.buckets.append(Bucket(w, h, t, max(usable, 0) * repeats, batch))
    if not out.buckets:
        raise WantuiError("the dataset config has no [[datasets]]", path=path)
    return out


@dataclass
class StepInputs:
    """One step's options, as argparse will take them."""

    step: str
    state: ArgView
    launch: ArgView | None = None


@dataclass
class PlanInputs:
    cwd: Path
    steps: dict[str, StepInputs] = field(default_factory=dict)
    dataset_config: Path | None = None
    windows: bool = False

    def flag(self, step: str, name: str) -> str | None:
        s = self.steps.get(step)
        return s.state.get(name) if s is not None else None

    def has(self, step: str, name: str) -> bool:
        s = self.steps.get(step)
        return s is not None and s.state.has(name)

    def int_flag(self, step: str, name: str, default: int | None) -> int | None:
        s = self.steps.get(step)
        return s.state.int(name, default) if s is not None else default

    def num_processes(self) -> int:
        s = self.steps.get("train")
        n = s.launch.int("--num_processes", 1) if s is not None and s.launch else 1
        return n if n and n > 0 else 1

    def resolve(self, p: str) -> Path:
        path = Path(os.path.expanduser(p))
        return path if path.is_absolute() else self.cwd / path


def inputs_from_project(project: Project) -> PlanInputs:
    """A project's enabled steps read by the one argument reader (core/args/options.py)."""
    out = PlanInputs(cwd=project.cwd(), dataset_config=project.dataset_config_path())
    for name, step in project.steps.items():
        if not step.enabled:
            continue
        view = project_view(project, name)
        out.steps[name] = StepInputs(
            name, view, project_launch(project) if name == "train" else None
        )
        dc = view.get("--dataset_config")
        if out.dataset_config is None and dc:
            out.dataset_config = out.resolve(dc)
    return out


def inputs_from_command(argv: list[str] | str, cwd: Path) -> PlanInputs:
    """Pasted command lines, as the in-memory project `wantui import` would write."""
    from wantui.core.args.parse import parse_commands
    from wantui.core.args.to_project import project_from_commands

    commands = parse_commands(argv, cwd)
    project, _ = project_from_commands(commands, cwd)
    if not project.steps:
        raise WantuiError(
            "no musubi-tuner Wan step in the command (wan_cache_latents.py,"
            " wan_cache_text_encoder_outputs.py or wan_train_network.py)"
        )
    out = inputs_from_project(project)
    out.windows = any(c.windows for c in commands)
    return out
