"""Which existing cache files a caching step would delete, before it runs.

musubi-tuner's caching scripts end each dataset by deleting every cache file in its
``cache_directory`` that no current item maps to, unless ``--keep_cache`` is given
(cache_latents.py ``encode_datasets``; cache_text_encoder_outputs.py
``post_process_cache_files``, musubi-tuner v0.3.4):

- latents: ``glob(cache_directory/*_wan.safetensors)`` minus each item's
  ``<stem>_<crop:05d>-<frames:03d>_<W:04d>x<H:04d>_wan.safetensors`` (videos) or
  ``<stem>_<W:04d>x<H:04d>_wan.safetensors`` (images);
- text encoder: ``glob(cache_directory/*_wan_te.safetensors)`` minus each item's
  ``<stem>_wan_te.safetensors``.

The item sizes are only known by decoding the media, so this predicts the files that no
current item can map to whatever its size: a stem with no media file (an empty or moved
folder, a renamed clip, another dataset's caches in a shared folder), or a clip cut
(start, length) the dataset's ``target_frames``/``frame_extraction`` no longer makes.
These are deleted for certain; a resolution change may delete more.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wantui.core.args.options import project_view
from wantui.core.dataset.load import DatasetConfig, load_dataset_config
from wantui.core.dataset.scan import ARCH, DatasetScan, scan_datasets
from wantui.core.dataset.schema import round_target_frames
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding, Location
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction

if TYPE_CHECKING:
    from wantui.core.project import Project

LATENT_SUFFIX = f"_{ARCH}.safetensors"
TE_SUFFIX = f"_{ARCH}_te.safetensors"
_SIZE = re.compile(r"\d{4,}x\d{4,}")
_CUT = re.compile(r"(\d{5,})-(\d{3,})")


@dataclass
class DoomedCaches:
    """The cache files of one dataset that a caching step would delete."""

    index: int  # the dataset's position in [[datasets]] (0-based)
    cache_directory: Path
    latents: list[str] = field(default_factory=list)  # file names, sorted
    te: list[str] = field(default_factory=list)
    total_latents: int = 0  # latent cache files there now
    total_te: int = 0


def _item_stems(scan: DatasetScan) -> set[str] | None:
    """The stems musubi-tuner's items will have; None when the step would crash first
    (an unreadable JSONL), so it deletes nothing."""
    if scan.jsonl is not None:
        if not scan.exists or scan.jsonl_bad:
            return None
        return {os.path.splitext(os.path.basename(m))[0] for m in scan.media}
    media = scan.media
    if scan.kind == "image":  # images without a caption are dropped, not crashed on
        missing = set(scan.captions_missing)
        media = [m for m in media if m not in missing]
    return {os.path.splitext(m)[0] for m in media}


def _cut_made(entry: dict[str, Any], general: dict[str, Any], crop: int, frames: int) -> bool:
    """Whether the dataset's frame settings still cut a (start, length) sample."""
    extraction = entry.get("frame_extraction", general.get("frame_extraction", "head"))
    if extraction == "full":
        return True  # the length depends on each clip: any may be made
    targets = entry.get("target_frames", general.get("target_frames", [1]))
    if not (isinstance(targets, list) and targets and all(isinstance(t, int) for t in targets)):
        return True  # an invalid value: the schema check reports it; assume kept
    if frames not in round_target_frames(targets):
        return False
    if extraction == "head":
        return crop == 0
    if extraction == "chunk":
        return crop % frames == 0
    if extraction == "slide":
        stride = entry.get("frame_stride", general.get("frame_stride", 1))
        return not isinstance(stride, int) or stride < 1 or crop % stride == 0
    return True  # uniform (and anything new): starts depend on the clip's length


def _latent_kept(name: str, scan: DatasetScan, stems: set[str], entry: dict, general: dict) -> bool:
    parts = name[: -len(LATENT_SUFFIX)].split("_")
    if len(parts) < 2 or not _SIZE.fullmatch(parts[-1]):
        return False
    if scan.kind == "image":
        return "_".join(parts[:-1]) in stems
    cut = _CUT.fullmatch(parts[-2]) if len(parts) >= 3 else None
    if cut is None or "_".join(parts[:-2]) not in stems:
        return False
    return _cut_made(entry, general, int(cut.group(1)), int(cut.group(2)))


def doomed_caches(config: DatasetConfig, cwd: Path | str) -> list[DoomedCaches]:
    """Per dataset with a cache folder that holds files: the files each caching step
    would delete (possibly none)."""
    out: list[DoomedCaches] = []
    for scan in scan_datasets(config, cwd):
        if scan.cache_directory is None:
            continue
        try:
            with os.scandir(scan.cache_directory) as it:
                # glob('*') skips dot files
                names = sorted(e.name for e in it if not e.name.startswith("."))
        except OSError:
            continue  # no folder yet: nothing to lose
        stems = _item_stems(scan)
        if stems is None:
            continue
        entry, general = config.datasets[scan.index], config.general
        latents = [n for n in names if n.endswith(LATENT_SUFFIX)]
        te = [n for n in names if n.endswith(TE_SUFFIX)]
        doomed = DoomedCaches(
            scan.index, scan.cache_directory, total_latents=len(latents), total_te=len(te)
        )
        doomed.latents = [n for n in latents if not _latent_kept(n, scan, stems, entry, general)]
        doomed.te = [n for n in te if n[: -len(TE_SUFFIX)] not in stems]
        if latents or te:
            out.append(doomed)
    return out


CACHING = {"latents": "latent caching", "te": "text-encoder caching"}
SHOWN = 8  # file names listed in the message; the count says the rest


def cache_loss_findings(project: Project, steps: list[str] | None = None) -> list[Finding]:
    """A warning per caching step about to run (``steps``, default: the enabled ones)
    without ``--keep_cache`` that would delete existing cache files, naming them."""
    running = steps if steps is not None else [n for n, s in project.steps.items() if s.enabled]
    todo = [s for s in CACHING if s in running and s in project.steps]
    path = project.dataset_config_path()
    if not todo or path is None:
        return []
    try:
        doomed = doomed_caches(load_dataset_config(path), project.cwd())
    except (WantuiError, OSError):
        return []  # the dataset checks report an unreadable config
    out: list[Finding] = []
    for step in todo:
        if project_view(project, step).has("--keep_cache"):  # --keep_c too, like argparse
            continue
        for d in doomed:
            names, total = (d.latents, d.total_latents) if step == "latents" else (d.te, d.total_te)
            if names:
                out.append(_finding(project, step, d, names, total, path))
    return out


def _finding(
    project: Project, step: str, d: DoomedCaches, names: list[str], total: int, config: Path
) -> Finding:
    n = d.index + 1
    every = len(names) == total
    shown = ", ".join(names[:SHOWN]) + (
        f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    )
    what = f"all {total}" if every else f"{len(names)} of {total}"
    return emit(
        "cache-files-deleted",
        location=Location(str(config)),
        origin="check",
        steps=(step,),
        fixes=[
            FixAction(
                "flag_add",
                {"step": step, "flag": "--keep_cache"},
                label=f"Keep them: add --keep_cache to {CACHING[step]}",
            )
        ],
        captures={"count": str(len(names)), "directory": str(d.cache_directory)},
        text={
            "caching": CACHING[step].capitalize(),
            "step_name": CACHING[step],
            "n": n,
            "what": what,
            "files": shown,
        },
    )
