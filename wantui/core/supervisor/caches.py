"""Do a caching step's outputs already exist? (for ``--skip-cached``)

A deliberately conservative check: a step is skipped only when every dataset's cache
folder holds its files; anything unclear (no dataset config, a parse error, an empty
folder) means "run the step", which is always safe.
"""

from __future__ import annotations

import os
from pathlib import Path

import tomlkit
import tomlkit.exceptions

from wantui.core.project import Project

LATENT_SUFFIX = "_wan.safetensors"
TE_SUFFIX = "_wan_te.safetensors"


def cache_dirs(project: Project) -> list[Path] | None:
    """Each dataset's cache folder (cache_directory, else the media folder), or None."""
    path = project.dataset_config_path()
    if path is None:
        return None
    try:
        data = tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError):
        return None
    datasets = data.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        return None
    out = []
    for ds in datasets:
        if not isinstance(ds, dict):
            return None
        where = ds.get("cache_directory") or ds.get("video_directory") or ds.get("image_directory")
        if not isinstance(where, str):
            return None
        # musubi resolves relative paths from its working directory: the project folder
        p = Path(os.path.expanduser(where))
        out.append(p if p.is_absolute() else project.cwd() / p)
    return out


def caches_present(project: Project, step: str) -> tuple[bool, str]:
    """(True, why) when ``step`` ("latents" or "te") can be skipped."""
    dirs = cache_dirs(project)
    if not dirs:
        return False, "no readable dataset config"
    counts = []
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            return False, f"cache folder missing: {d}"
        latents = [n for n in names if n.endswith(LATENT_SUFFIX)]
        tes = {n for n in names if n.endswith(TE_SUFFIX)}
        if not latents:
            return False, f"no latent caches in {d}"
        if step == "te":
            if not tes:
                return False, f"no text-encoder caches in {d}"
            # training pairs each latent with <stem>_wan_te (images drop 1 token, videos 2)
            missing = [n for n in latents if not _has_te(n, tes)]
            if missing:
                return False, f"{len(missing)} latent caches without a text-encoder cache in {d}"
            counts.append(len(tes))
        else:
            counts.append(len(latents))
    kind = "latent" if step == "latents" else "text-encoder"
    return True, f"{sum(counts)} {kind} cache files already in {len(dirs)} dataset folder(s)"


def _has_te(latent: str, tes: set[str]) -> bool:
    base = latent[: -len(LATENT_SUFFIX)]
    return any(f"{base.rsplit('_', k)[0]}{TE_SUFFIX}" in tes for k in (1, 2))
