"""CLIP file and existing latent caches against ``--task``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from wantui.core.args.options import project_view
from wantui.core.finding import Finding, Location
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction
from wantui.core.models import (
    read_safetensors_header,
)

if TYPE_CHECKING:
    from wantui.core.project import Project
from wantui.core.modelchecks.refs import (
    WAN21_CLIP_TASKS,
    WAN22_TASKS,
    ModelRef,
    model_at,
    train_task,
)


def clip_and_cache_findings(project: Project, refs: list[ModelRef]) -> list[Finding]:
    """CLIP for the I2V tasks, and latent caches made for another task."""
    out: list[Finding] = []
    if "train" not in project.steps:
        return out
    task = train_task(project)
    latents = project_view(project, "latents")
    i2v = "i2v" in task or "flf2v" in task
    needs_clip = task in WAN21_CLIP_TASKS
    latents_on = "latents" in project.steps and project.steps["latents"].enabled
    if latents_on and needs_clip and not latents.has("--clip"):
        out.append(
            emit(
                "clip-missing-for-i2v",
                **model_at(None),
                text={"task": task},
                fixes=[
                    FixAction(
                        "download",
                        {"name": "clip", "step": "latents", "flag": "--clip"},
                        label="Download the Wan-AI CLIP and add --clip to latent caching",
                    )
                ],
            )
        )
    elif latents_on and i2v and not (latents.has("--i2v") or latents.has("--clip")):
        out.append(
            emit(
                "i2v-latents-flag",
                **model_at(None),
                text={"task": task},
                fixes=[
                    FixAction(
                        "flag_add",
                        {"step": "latents", "flag": "--i2v"},
                        label="Add --i2v to latent caching",
                    ),
                    FixAction("rerun_step", {"step": "latents"}, label="Cache the latents again"),
                ],
            )
        )
    if task in WAN22_TASKS:
        for ref in refs:
            if ref.role == "clip":
                out.append(
                    emit(
                        "clip-unused",
                        **model_at(ref),
                        text={"task": task},
                        steps=(ref.step,),
                        fixes=[
                            FixAction(
                                "flag_remove",
                                {"step": ref.step, "flag": "--clip"},
                                label="Drop --clip",
                            )
                        ],
                    )
                )
                break
    out.extend(_cache_key_findings(project, task))
    return out


def cache_dirs(project: Project) -> list[Path]:
    """Cache folders of the project's datasets (cache_directory, else the media folder)."""
    path = project.dataset_config_path()
    if path is None or not path.is_file():
        return []
    try:
        from wantui.core.dataset import load_dataset_config

        cfg = load_dataset_config(path)
    except Exception:  # reported by the inputs checks; nothing to look at here
        return []
    dirs: list[Path] = []
    for entry in cfg.datasets:
        d = (
            entry.get("cache_directory")
            or entry.get("video_directory")
            or entry.get("image_directory")
        )
        if isinstance(d, str) and d:
            dirs.append(project.resolve(d) if not Path(d).is_absolute() else Path(d))
    return dirs


def _cache_key_findings(project: Project, task: str) -> list[Finding]:
    need: list[tuple[str, str]] = []  # (key prefix, what creates it)
    if "i2v" in task or "flf2v" in task:
        need.append(("latents_image_", "--i2v"))
    if task in WAN21_CLIP_TASKS:
        need.append(("clip_", "--clip"))
    if task.endswith("-FC"):
        need.append(("latents_control_", "control videos (control_directory)"))
    if not need:
        return []
    out: list[Finding] = []
    for d in cache_dirs(project):
        try:
            caches = sorted(d.glob("*_wan.safetensors"))[:3]
        except OSError:
            continue
        for cache in caches:
            try:
                keys = read_safetensors_header(cache).tensors.keys()
            except Exception:
                continue  # a damaged cache is musubi's to rebuild
            lacking = [(p, how) for p, how in need if not any(k.startswith(p) for k in keys)]
            if lacking:
                names = ", ".join(p.rstrip("_") for p, _ in lacking)
                hows = ", ".join(how for _, how in lacking)
                out.append(
                    emit(
                        "i2v-cache-keys",
                        origin="model",
                        location=Location(str(cache)),
                        captures={"path": str(cache), "task": task},
                        text={
                            "cache": cache.name,
                            "names": names,
                            "first": lacking[0][0].rstrip("_"),
                            "hows": hows,
                        },
                        fixes=[
                            FixAction(
                                "rerun_step", {"step": "latents"}, label="Cache the latents again"
                            )
                        ],
                    )
                )
                break  # one finding per cache folder
    return out
