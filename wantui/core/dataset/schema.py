"""The dataset config schema of musubi-tuner v0.3.4 as data (config_utils.py ConfigSanitizer).

Types mirror voluptuous: ``int`` accepts a bool (voluptuous checks ``isinstance``),
``float`` rejects an int (``source_fps = 30`` fails), ``[int]`` is a list of ints and
``int2`` is an int or an exact ``[int, int]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KeySpec:
    name: str
    type: str  # "str" | "int" | "float" | "bool" | "int_list" | "int2"
    default: Any
    help: str = ""


def _specs(*items: KeySpec) -> dict[str, KeySpec]:
    return {k.name: k for k in items}


# Allowed in [general] and in each [[datasets]] entry.
ASCENDABLE = _specs(
    KeySpec("resolution", "int2", [960, 544], "[width, height] or one int for a square"),
    KeySpec("caption_extension", "str", None, 'caption file extension with the dot, e.g. ".txt"'),
    KeySpec("batch_size", "int", 1, "batch size per device"),
    KeySpec("num_repeats", "int", 1, "how many times each item is repeated per epoch"),
    KeySpec("enable_bucket", "bool", False, "aspect-ratio buckets"),
    KeySpec("bucket_no_upscale", "bool", False, "never upscale into a bucket"),
)

VIDEO_ONLY = _specs(
    KeySpec(
        "video_directory", "str", None, "folder of videos (resolved from the working directory)"
    ),
    KeySpec("video_jsonl_file", "str", None, 'JSONL with {"video_path", "caption"} lines'),
    KeySpec("control_directory", "str", None, "Fun-Control videos"),
    KeySpec("target_frames", "int_list", [1], "frame counts, rounded down to 4N+1"),
    KeySpec("frame_extraction", "str", "head", "head, chunk, slide, uniform or full"),
    KeySpec("frame_stride", "int", 1, "step of the slide extraction"),
    KeySpec("frame_sample", "int", 1, "windows of the uniform extraction"),
    KeySpec("max_frames", "int", 129, "cap of the full extraction"),
    KeySpec("cache_directory", "str", None, "latent/TE cache folder (default: the media folder)"),
    KeySpec("source_fps", "float", None, "source frame rate, a float like 30.0"),
    KeySpec("fp_latent_window_size", "int", 9, "FramePack only"),
)

IMAGE_ONLY = _specs(
    KeySpec(
        "image_directory", "str", None, "folder of images (resolved from the working directory)"
    ),
    KeySpec("image_jsonl_file", "str", None, 'JSONL with {"image_path", "caption"} lines'),
    KeySpec("cache_directory", "str", None, "latent/TE cache folder (default: the media folder)"),
    KeySpec("control_directory", "str", None, "control images"),
    KeySpec("multiple_target", "bool", False, ""),
    KeySpec("fp_latent_window_size", "int", 9, "FramePack only"),
    KeySpec("fp_1f_clean_indices", "int_list", None, "FramePack only"),
    KeySpec("fp_1f_target_index", "int", None, "FramePack only"),
    KeySpec("fp_1f_no_post", "bool", False, "FramePack only"),
    KeySpec("no_resize_control", "bool", False, ""),
    KeySpec("control_resolution", "int2", None, ""),
)

VIDEO_SCHEMA = {**ASCENDABLE, **VIDEO_ONLY}
IMAGE_SCHEMA = {**ASCENDABLE, **IMAGE_ONLY}
ALL_DATASET_KEYS = sorted({*VIDEO_SCHEMA, *IMAGE_SCHEMA})
TOP_LEVEL = ("general", "datasets")

FRAME_EXTRACTION = ("head", "chunk", "slide", "uniform", "full")

# Extensions musubi-tuner globs (media_utils.py), in lower and UPPER case only.
VIDEO_EXTENSIONS = (
    ".mp4",
    ".webm",
    ".avi",
    ".mkv",
    ".mov",
    ".flv",
    ".wmv",
    ".m4v",
    ".mpg",
    ".mpeg",
)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".avif")
# JPEG-XL counts only when jxlpy / pillow_jxl is installed in the pipeline's interpreter.
OPTIONAL_IMAGE_EXTENSIONS = (".jxl",)

# Wrong keys people copy from other trainers, and the right one. A value of None means
# "depends on the entry" (resolved by the checker: path -> video_/image_directory).
KEY_ALIASES: dict[str, str | None] = {
    "num_frames": "target_frames",
    "frames": "target_frames",
    "frame_count": "target_frames",
    "train_batch_size": "batch_size",
    "width": "resolution",
    "height": "resolution",
    "size": "resolution",
    "fps": "source_fps",
    "frame_rate": "source_fps",
    "caption_ext": "caption_extension",
    "repeats": "num_repeats",
    "cache_dir": "cache_directory",
    "path": None,
    "directory": None,
    "dir": None,
    "folder": None,
    "data_dir": None,
    "train_data_dir": None,
}


def round_target_frames(values: list[int]) -> list[int]:
    """What musubi-tuner makes of ``target_frames``: de-duplicated, sorted, each rounded
    down to 4N+1 with ``(f - 1) // 4 * 4 + 1`` (image_video_dataset.py)."""
    return sorted({(f - 1) // 4 * 4 + 1 for f in values})


def type_ok(spec_type: str, value: Any) -> bool:
    """Whether ``value`` passes the voluptuous type of a key."""
    if spec_type == "str":
        return isinstance(value, str)
    if spec_type == "int":
        return isinstance(value, int)  # voluptuous: isinstance, so a bool passes too
    if spec_type == "float":
        return isinstance(value, float)
    if spec_type == "bool":
        return isinstance(value, bool)
    if spec_type == "int_list":
        return isinstance(value, list) and all(isinstance(v, int) for v in value)
    if spec_type == "int2":
        if isinstance(value, int):
            return True
        return (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)
        )
    raise ValueError(spec_type)


def voluptuous_expected(spec_type: str) -> str:
    """The wording voluptuous uses ("expected int", "expected a list")."""
    return {
        "str": "expected str",
        "int": "expected int",
        "float": "expected float",
        "bool": "expected bool",
        "int_list": "expected a list",
        "int2": "expected int",
    }[spec_type]
