"""Which musubi-tuner architecture a run is: from the script's name and from the log.

musubi-tuner trains many model families with shared code (dataset config, caches,
accelerate, attention backends). wantui is the Wan assistant, but a run of another
family must not get Wan advice: the matcher asks this module which family a run is and
skips rules that declare other ``architectures``. Pure: names and lines in, an id out.

The table follows musubi-tuner's scripts and ``dataset/architectures.py`` (commit 30c658c):
``cache`` is the architecture suffix of its cache files (``<stem>_<cache>.safetensors``,
``<stem>_<cache>_te.safetensors``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath, PureWindowsPath


@dataclass(frozen=True)
class Architecture:
    id: str
    name: str  # as users write it
    cache: str  # musubi's cache-file suffix
    scripts: tuple[str, ...]  # script-name prefixes (without .py)
    modules: tuple[str, ...]  # module paths / logger names that only this family logs


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture(
        "wan",
        "Wan",
        "wan",
        ("wan_",),
        # logger names, then the package in traceback frames (POSIX and Windows paths)
        (
            "musubi_tuner.wan.",
            "wan.modules.",
            "wan/modules/",
            "wan\\modules\\",
            "musubi_tuner/wan/",
            "musubi_tuner\\wan\\",
        ),
    ),
    Architecture(
        "hunyuan_video_1_5",
        "HunyuanVideo 1.5",
        "hv15",
        ("hv_1_5_",),
        ("hunyuan_video_1_5", "hv_1_5_train_network", "hv_1_5_cache"),
    ),
    Architecture(
        "hunyuan_video",
        "HunyuanVideo",
        "hv",
        ("hv_", "cache_latents", "cache_text_encoder_outputs"),
        ("hunyuan_model", "HYVideoDiffusionTransformer"),
    ),
    Architecture("framepack", "FramePack", "fp", ("fpack_",), ("frame_pack", "fpack_")),
    Architecture(
        "flux_kontext",
        "FLUX.1 Kontext",
        "fk",
        ("flux_kontext_",),
        ("flux_kontext", "musubi_tuner.flux.", "musubi_tuner/flux/", "musubi_tuner\\flux\\"),
    ),
    Architecture("flux_2", "FLUX.2", "f2d", ("flux_2_",), ("flux_2", "flux2_utils")),
    Architecture(
        "qwen_image",
        "Qwen-Image",
        "qi",
        ("qwen_image_", "qwen_extract"),
        ("qwen_image_train", "qwen_image_cache"),
    ),
    Architecture("z_image", "Z-Image", "zi", ("zimage_",), ("musubi_tuner.zimage", "zimage_train")),
    Architecture("kandinsky5", "Kandinsky 5", "k5", ("kandinsky5_",), ("kandinsky5",)),
    Architecture("hidream_o1", "HiDream-O1", "ho1", ("hidream_o1_",), ("hidream_o1",)),
    Architecture("ideogram4", "Ideogram 4", "i4", ("ideogram4_",), ("ideogram4",)),
    Architecture("krea2", "Krea 2", "kr2", ("krea2_",), ("krea2",)),
)
BY_ID = {a.id: a for a in ARCHITECTURES}
WAN = BY_ID["wan"]

# Log hints, most specific first (hv_1_5 before hv, qwen_image's own scripts before the
# shared qwen_image_utils that HunyuanVideo 1.5 also imports).
_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(re.escape(m)), a.id) for a in ARCHITECTURES for m in a.modules
)
_SCRIPT = re.compile(r"(?:^|[\\/\s'\"])(?P<name>[a-z0-9_]+)\.py\b")


def script_architecture(script: str | None) -> str | None:
    """The architecture of a musubi-tuner script (``wan_train_network.py``,
    ``src/musubi_tuner/hv_1_5_cache_latents.py``); ``None`` for anything else."""
    if not script:
        return None
    name = PureWindowsPath(script).name if "\\" in script else PurePath(script).name
    stem = name[:-3] if name.endswith(".py") else name
    for arch in ARCHITECTURES:  # ordered: hv_1_5_ before hv_
        if any(stem.startswith(p) for p in arch.scripts):
            return arch.id
    return None


def line_architecture(text: str) -> str | None:
    """The architecture a log line betrays (a module path, a logger name, a script run),
    ``None`` when it says nothing about one."""
    for pat, arch in _HINTS:
        if pat.search(text):
            return arch
    for m in _SCRIPT.finditer(text):
        arch = script_architecture(m.group("name") + ".py")
        if arch is not None:
            return arch
    return None


def name_of(arch_id: str | None) -> str:
    """The family's name as users write it; "this run" when nothing says which."""
    return BY_ID[arch_id].name if arch_id in BY_ID else "this run"


def cache_suffix(arch_id: str | None) -> str:
    """musubi's cache-file suffix; Wan's when nothing says (an unknown run is taken as Wan)."""
    return (BY_ID[arch_id] if arch_id in BY_ID else WAN).cache
