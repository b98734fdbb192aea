"""The re-cache musubi-tuner v0.3.5 makes of video datasets that do not bucket.

Up to v0.3.4, caching a video dataset's latents ignored its ``enable_bucket`` and
``bucket_no_upscale`` (``VideoDataset.retrieve_latent_cache_batches`` built its
``BucketSelector`` with the defaults: area buckets, upscaling), while training honoured
them. v0.3.5 honours them when caching too (kohya-ss/musubi-tuner PR #1100). With
``enable_bucket = false`` a clip is now cached at the configured ``resolution`` itself, so
the latents step of v0.3.5 writes new cache files next to the v0.3.4 ones (their names
carry the size) and then deletes the old ones, unless ``--keep_cache`` is given. This
predicts that from the cache file names, before the step runs.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from wantui.core.dataset.load import load_dataset_config
from wantui.core.dataset.scan import ARCH, scan_datasets
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding, Location
from wantui.core.findings import emit

if TYPE_CHECKING:
    from wantui.core.project import Project

_VIDEO_CACHE = re.compile(rf"_\d{{5,}}-\d{{3,}}_(\d{{4,}})x(\d{{4,}})_{ARCH}\.safetensors$")
SINCE = ">=0.3.5"


def _setting(entry: dict[str, Any], general: dict[str, Any], key: str, default: Any) -> Any:
    return entry.get(key, general.get(key, default))


def _resolution(value: Any) -> tuple[int, int] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value[0], value[1]
    return None


def bucket_recache_findings(project: Project, steps: list[str] | None = None) -> list[Finding]:
    """A warning per video dataset whose latent caches the v0.3.5 latents step would
    rebuild at another size (none for musubi-tuner <=0.3.4, or when latents do not run)."""
    from wantui.core.args.checkout import musubi_holds, musubi_name
    from wantui.core.args.options import project_view

    running = steps if steps is not None else [n for n, s in project.steps.items() if s.enabled]
    path = project.dataset_config_path()
    if "latents" not in running or "latents" not in project.steps or path is None:
        return []
    if not musubi_holds(SINCE):
        return []
    try:
        config = load_dataset_config(path)
    except (WantuiError, OSError):
        return []  # the dataset checks report it
    keep = project_view(project, "latents").has("--keep_cache")
    out: list[Finding] = []
    for scan in scan_datasets(config, project.cwd()):
        if scan.kind != "video" or scan.cache_directory is None:
            continue
        entry, general = config.datasets[scan.index], config.general
        if _setting(entry, general, "enable_bucket", False):
            continue  # buckets as before (bucket_no_upscale alone: sizes cannot be told)
        want = _resolution(_setting(entry, general, "resolution", [960, 544]))
        if want is None:
            continue
        try:
            with os.scandir(scan.cache_directory) as it:
                names = sorted(e.name for e in it if _VIDEO_CACHE.search(e.name))
        except OSError:
            continue
        other = [n for n in names if tuple(map(int, _VIDEO_CACHE.search(n).groups())) != want]  # type: ignore[union-attr]
        if not other:
            continue
        sizes = sorted({"x".join(_VIDEO_CACHE.search(n).groups()).lstrip("0") for n in other})  # type: ignore[union-attr]
        out.append(
            emit(
                "video-cache-rebucketed",
                origin="check",
                location=Location(str(path)),
                captures={"count": str(len(other)), "directory": str(scan.cache_directory)},
                text={
                    "n": scan.index + 1,
                    "size": f"{want[0]}x{want[1]}",
                    "sizes": ", ".join(sizes[:4]),
                    "musubi": musubi_name(),
                    "keep": "; --keep_cache keeps the old files beside the new ones."
                    if keep
                    else " and then deletes the old files (no --keep_cache).",
                },
            )
        )
    return out
