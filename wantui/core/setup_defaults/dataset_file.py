"""The dataset TOML the setup writes for one media folder."""

from __future__ import annotations

import tomlkit


def dataset_toml(
    media_dir: str,
    *,
    cache_dir: str | None = None,
    images: bool = False,
    resolution: tuple[int, int] = (832, 480),
    target_frames: tuple[int, ...] = (1, 25, 45),
    caption_extension: str = ".txt",
) -> str:
    """A valid musubi-tuner dataset TOML for one folder (forward slashes, 4N+1 frames)."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("written by wantui setup; paths are relative to the project folder"))
    general = tomlkit.table()
    general["resolution"] = list(resolution)
    general["caption_extension"] = caption_extension
    general["batch_size"] = 1
    general["enable_bucket"] = True
    general["bucket_no_upscale"] = False
    doc["general"] = general
    entry = tomlkit.table()
    media = media_dir.replace("\\", "/")
    entry["image_directory" if images else "video_directory"] = media
    # the cache must not be the media folder when another dataset is added later
    entry["cache_directory"] = (cache_dir or media.rstrip("/") + "_cache").replace("\\", "/")
    if not images:
        entry["target_frames"] = list(target_frames)
        entry["frame_extraction"] = "head"
    aot = tomlkit.aot()
    aot.append(entry)
    doc["datasets"] = aot
    return tomlkit.dumps(doc)
