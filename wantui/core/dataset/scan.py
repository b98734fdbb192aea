"""What musubi-tuner will find on disk for each dataset: media, captions, clip lengths, caches.

One ``os.scandir`` per folder (media and caption folders are the same; the cache folder
is read once more when it differs); no per-file ``stat`` except the frame count of clips,
which reads only the MP4 ``moov`` box and only when a target could be too long.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui.core.dataset.check_paths import show_controls
from wantui.core.dataset.load import DatasetConfig
from wantui.core.dataset.media_header import media_problem
from wantui.core.dataset.mp4 import MP4_EXTENSIONS, mp4_frame_count
from wantui.core.dataset.nearby import files_seen, nearest_media_folder
from wantui.core.dataset.schema import (
    IMAGE_EXTENSIONS,
    OPTIONAL_IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    round_target_frames,
)
from wantui.core.finding import Finding, Location, Severity
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction
from wantui.core.textenc import file_encoding

ARCH = "wan"


def _accepted(exts: tuple[str, ...]) -> frozenset[str]:
    # glob is case-sensitive on Linux and musubi-tuner lists lower and UPPER case only
    return frozenset(exts) | frozenset(e.upper() for e in exts)


_VIDEO = _accepted(VIDEO_EXTENSIONS)
_IMAGE = _accepted(IMAGE_EXTENSIONS)
_MAX_FRAME_READS = 20000  # clips whose length is read per dataset; beyond that "unknown"
_MAX_HEADER_READS = 2000  # media headers read per dataset (64 bytes each, and MP4 box heads)


@dataclass
class DatasetScan:
    index: int
    kind: str  # "video" | "image"
    directory: Path | None  # resolved from the working directory; None for JSONL
    exists: bool = False
    media: list[str] = field(default_factory=list)  # file names musubi-tuner will glob
    ignored: list[str] = field(
        default_factory=list
    )  # files it will not (other extensions, mixed case)
    captions_missing: list[str] = field(default_factory=list)
    captions_not_utf8: list[tuple[str, str]] = field(default_factory=list)  # (file, looks like)
    media_bad: list[tuple[str, str]] = field(default_factory=list)  # (file, why it won't decode)
    caption_extension: str | None = None
    # of the missing captions, those found as `<stem>.<ext>`: the extension lacks its dot
    captions_with_dot: list[str] = field(default_factory=list)
    frame_counts: dict[str, int | None] = field(default_factory=dict)
    short: dict[int, list[str]] = field(default_factory=dict)  # target -> clips shorter than it
    cache_directory: Path | None = None
    latent_caches: int = 0
    te_caches: int = 0
    cached_stems: set[str] = field(default_factory=set)  # item keys with a latent cache
    te_stems: set[str] = field(default_factory=set)
    missing_te: list[str] = field(default_factory=list)  # latent caches without a TE sibling
    jsonl: Path | None = None  # a JSONL dataset's file, resolved
    jsonl_bad: list[tuple[int, str]] = field(
        default_factory=list
    )  # (line, problem) that crash loading
    media_missing: list[str] = field(default_factory=list)  # JSONL paths that do not exist
    # JSONL paths found only beside the JSONL (musubi-tuner >=0.3.5 falls back there)
    media_beside_jsonl: list[str] = field(default_factory=list)
    extra_keys: dict[str, int] = field(default_factory=dict)  # unknown JSONL item keys

    @property
    def captioned(self) -> int:
        return len(self.media) - len(self.captions_missing)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "directory": str(self.directory) if self.directory else None,
            "exists": self.exists,
            "media": len(self.media),
            "ignored": self.ignored[:20],
            "captions_missing": self.captions_missing[:50],
            "short": {str(k): v[:50] for k, v in self.short.items()},
            "cache_directory": str(self.cache_directory) if self.cache_directory else None,
            "latent_caches": self.latent_caches,
            "te_caches": self.te_caches,
            "missing_te": self.missing_te[:50],
        }


def _resolve(cwd: Path, p: str) -> Path:
    path = Path(os.path.expanduser(p))
    return path if path.is_absolute() else cwd / path


def _listdir(path: Path) -> list[str] | None:
    try:
        with os.scandir(path) as it:
            # glob("*") skips dot files; folders named like media are not media
            return [e.name for e in it if not e.name.startswith(".") and not e.is_dir()]
    except OSError:
        return None


def _latent_stem(name: str) -> tuple[str, bool] | None:
    """``clip_00000-017_0832x0480_wan.safetensors`` -> ("clip", True); images strip 2 tokens."""
    suffix = f"_{ARCH}.safetensors"
    if not name.endswith(suffix) or name.endswith(f"_{ARCH}_te.safetensors"):
        return None
    parts = name[: -len(suffix)].split("_")
    if len(parts) >= 3 and "-" in parts[-2] and "x" in parts[-1]:
        return "_".join(parts[:-2]), True
    if len(parts) >= 2 and "x" in parts[-1]:
        return "_".join(parts[:-1]), False
    return None


def _effective(entry: dict[str, Any], general: dict[str, Any], key: str, default: Any) -> Any:
    value = entry.get(key, general.get(key))
    return default if value is None else value


def scan_datasets(
    config: DatasetConfig, cwd: Path | str, step: str | None = None
) -> list[DatasetScan]:
    """Scan every dataset of a loaded config. ``step="train"`` also counts cache files."""
    cwd = Path(cwd).absolute()
    general = config.general
    scans: list[DatasetScan] = []
    for i, entry in enumerate(config.datasets):
        is_image = "image_directory" in entry or "image_jsonl_file" in entry
        kind = "image" if is_image else "video"
        media_dir = entry.get("image_directory" if is_image else "video_directory")
        scan = DatasetScan(index=i, kind=kind, directory=None)
        cap = _effective(entry, general, "caption_extension", None)
        scan.caption_extension = cap if isinstance(cap, str) else None
        names: list[str] | None = None
        if isinstance(media_dir, str):
            scan.directory = _resolve(cwd, media_dir)
            names = _listdir(scan.directory)
            scan.exists = names is not None
        if names is not None:
            accepted = _IMAGE if is_image else _VIDEO
            name_set = set(names)
            for name in sorted(names):
                ext = os.path.splitext(name)[1]
                if ext in accepted:
                    scan.media.append(name)
                elif ext.lower() in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS + OPTIONAL_IMAGE_EXTENSIONS:
                    scan.ignored.append(name)
            if scan.caption_extension:
                dotless = not scan.caption_extension.startswith(".")
                for name in scan.media:
                    stem = os.path.splitext(name)[0]
                    if stem + scan.caption_extension not in name_set:
                        scan.captions_missing.append(name)
                        if dotless and f"{stem}.{scan.caption_extension}" in name_set:
                            scan.captions_with_dot.append(f"{stem}.{scan.caption_extension}")
                    elif len(scan.captions_not_utf8) < 50:
                        # musubi reads captions with encoding="utf-8" (datasources.py)
                        cap_name = stem + scan.caption_extension
                        enc = file_encoding(scan.directory / cap_name)
                        if enc is not None:
                            scan.captions_not_utf8.append((cap_name, enc))
            else:
                scan.captions_missing = list(scan.media)
            for name in scan.media[:_MAX_HEADER_READS]:
                why = media_problem(scan.directory / name)
                if why is not None:
                    scan.media_bad.append((name, why))
            if kind == "video":
                _scan_frames(scan, entry)
        jsonl = entry.get("image_jsonl_file" if is_image else "video_jsonl_file")
        if isinstance(jsonl, str) and scan.directory is None:
            scan.jsonl = _resolve(cwd, jsonl)
            _scan_jsonl(scan, cwd, "image_path" if is_image else "video_path")
        cache = entry.get("cache_directory")
        if isinstance(cache, str):
            scan.cache_directory = _resolve(cwd, cache)
        elif scan.directory is not None:
            scan.cache_directory = scan.directory
        if step == "train" and scan.cache_directory is not None:
            cache_names = (
                names if scan.cache_directory == scan.directory else _listdir(scan.cache_directory)
            )
            _count_caches(scan, cache_names or [])
        scans.append(scan)
    return scans


_MAX_JSONL_LINES = 200_000


_CONTROL_KEY = re.compile(r"^control_path(?:_\d+)?$")


def _scan_jsonl(scan: DatasetScan, cwd: Path, path_key: str) -> None:
    """Read a JSONL dataset like musubi-tuner: one JSON object per line, a blank line is a
    JSON error too; ``caption`` and the media path are required per item."""
    from wantui.core.args.checkout import musubi_holds

    assert scan.jsonl is not None
    if scan.jsonl.exists() and not scan.jsonl.is_file():  # a FIFO or device: never ends
        scan.exists = True
        scan.jsonl_bad.append((0, "not a regular file"))
        return
    try:
        with open(scan.jsonl, encoding="utf-8") as f:
            scan.exists = True
            for n, line in enumerate(f, 1):
                if n > _MAX_JSONL_LINES:
                    break
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    scan.jsonl_bad.append((n, f"not JSON ({exc.msg})"))
                    continue
                if not isinstance(item, dict):
                    scan.jsonl_bad.append((n, "not a JSON object"))
                    continue
                media = item.get(path_key)
                if not isinstance(media, str):
                    scan.jsonl_bad.append((n, f'no "{path_key}"'))
                    continue
                scan.media.append(media)
                if "caption" not in item:
                    scan.captions_missing.append(media)
                for key in item:
                    if key not in (path_key, "caption") and not _CONTROL_KEY.match(key):
                        scan.extra_keys[key] = scan.extra_keys.get(key, 0) + 1
                if len(scan.media) <= _MAX_FRAME_READS and not _resolve(cwd, media).exists():
                    # v0.3.5 (PR #1023): the working directory first, then the JSONL's folder
                    if musubi_holds(">=0.3.5") and _resolve(scan.jsonl.parent, media).exists():
                        scan.media_beside_jsonl.append(media)
                    else:
                        scan.media_missing.append(media)
    except FileNotFoundError:
        scan.exists = False
    except (OSError, UnicodeDecodeError) as exc:
        scan.exists = True
        scan.jsonl_bad.append((0, f"cannot read: {exc}"))


def _scan_frames(scan: DatasetScan, entry: dict[str, Any]) -> None:
    targets = entry.get("target_frames", [1])
    if not (isinstance(targets, list) and all(isinstance(t, int) for t in targets)) or not targets:
        return
    rounded = [t for t in round_target_frames(targets) if t > 1]
    extraction = entry.get("frame_extraction", "head")
    if not rounded or extraction == "full" or scan.directory is None:
        return
    for n, name in enumerate(scan.media):
        frames: int | None = None
        if n < _MAX_FRAME_READS and os.path.splitext(name)[1].lower() in MP4_EXTENSIONS:
            frames = mp4_frame_count(scan.directory / name)
        scan.frame_counts[name] = frames
        if frames is None:
            continue
        for t in rounded:
            if frames < t:
                scan.short.setdefault(t, []).append(name)


def _count_caches(scan: DatasetScan, names: list[str]) -> None:
    te = set()
    latents: list[str] = []
    for name in names:
        if name.endswith(f"_{ARCH}_te.safetensors"):
            te.add(name[: -len(f"_{ARCH}_te.safetensors")])
            continue
        parsed = _latent_stem(name)
        if parsed is None:
            continue
        stem, is_video = parsed
        if is_video == (scan.kind == "video"):
            latents.append(stem)
    scan.latent_caches = len(latents)
    scan.te_caches = len(te)
    scan.cached_stems = set(latents)
    scan.te_stems = te
    scan.missing_te = sorted({s for s in latents if s not in te})


def _where(config: DatasetConfig, i: int, key: str | None) -> Location:
    table = f"datasets[{i}]"
    p = config.positions.value(table, key) if key else None
    p = p or config.positions.table(table)
    return Location(str(config.path), p.line if p else None, p.column if p else None)


def _sample(names: list[str], n: int = 5) -> str:
    shown = ", ".join(names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


def scan_findings(config: DatasetConfig, cwd: Path | str, step: str | None = None) -> list[Finding]:
    """Findings from a scan: empty datasets, missing captions, short clips, missing caches."""
    out: list[Finding] = []
    scans = scan_datasets(config, cwd, step)

    def add(rule: str, loc: Location, **kw: Any) -> None:
        out.append(emit(rule, origin="check", location=loc, **kw))

    for scan in scans:
        n = scan.index + 1
        key = "image_directory" if scan.kind == "image" else "video_directory"
        loc = _where(config, scan.index, key)
        if scan.jsonl is not None:
            out.extend(_jsonl_findings(config, scan))
            continue
        if scan.directory is None:
            continue
        if not scan.exists:
            near, fixes = _nearest(scan, key, Path(cwd))
            add(
                "dataset-directory-missing",
                loc,
                captures={"directory": str(scan.directory)},
                text={
                    "n": n,
                    "key": key,
                    "shown": show_controls(str(scan.directory)),
                    "cwd": Path(cwd),
                    "kind": scan.kind,
                    "nearest": near,
                },
                fixes=fixes,
            )
            continue
        if not scan.media:
            accepted = ", ".join(IMAGE_EXTENSIONS if scan.kind == "image" else VIDEO_EXTENSIONS)
            seen = f" It ignores: {_sample(scan.ignored)}." if scan.ignored else ""
            near, fixes = _nearest(scan, key, Path(cwd))
            add(
                "dataset-empty",
                loc,
                captures={"directory": str(scan.directory)},
                text={
                    "n": n,
                    "problem": f"no {scan.kind}s musubi-tuner will pick up",
                    "source": show_controls(str(scan.directory)),
                    "detail": f"(resolved from the working directory {Path(cwd)}) holds"
                    f" {files_seen(_listdir(scan.directory) or [])}, none with an accepted"
                    f" extension ({accepted}, lower or UPPER case only).{seen} musubi-tuner"
                    f" logs `found 0 {scan.kind}s` and caches nothing; running caching again"
                    f" changes nothing.{near}",
                },
                fixes=fixes,
            )
            continue
        if scan.ignored:
            add(
                "dataset-files-ignored",
                loc,
                text={
                    "n": n,
                    "count": len(scan.ignored),
                    "kind": scan.kind,
                    "files": _sample(scan.ignored),
                },
            )
        if scan.media_bad:
            first, why = scan.media_bad[0]
            add(
                "media-not-decodable",
                loc,
                captures={"file": first, "reason": why},
                text={
                    "n": n,
                    "count": len(scan.media_bad),
                    "kind": scan.kind,
                    "reader": "PyAV (`av.open`)" if scan.kind == "video" else "PIL (`Image.open`)",
                    "failures": "; ".join(f"{name} {w}" for name, w in scan.media_bad[:5]),
                },
            )
        if scan.captions_not_utf8:
            first, enc = scan.captions_not_utf8[0]
            add(
                "caption-not-utf8",
                loc,
                captures={"file": first, "encoding": enc},
                text={
                    "n": n,
                    "count": len(scan.captions_not_utf8),
                    "files": ", ".join(
                        f"{name} (looks like {e})" for name, e in scan.captions_not_utf8[:5]
                    ),
                },
            )
        if scan.captions_missing and scan.caption_extension:
            video = scan.kind == "video"
            add(
                "caption-missing",
                loc,
                severity=None if video else Severity.WARNING,
                priority=None if video else 40,
                captures={
                    "count": str(len(scan.captions_missing)),
                    "caption_extension": scan.caption_extension,
                    "table": f"datasets[{scan.index}]",
                },
                text={
                    "n": n,
                    "items": f"{len(scan.captions_missing)} of {len(scan.media)} {scan.kind}s",
                    "caption": f"{scan.caption_extension} caption",
                    "effect": "Videos without a caption crash caching with `FileNotFoundError`"
                    f" on `<stem>{scan.caption_extension}`"
                    if video
                    else "Images without a caption are silently dropped by musubi-tuner",
                    "files": _sample(scan.captions_missing),
                    "dot_hint": f" Yet {_sample(scan.captions_with_dot, 3)} exist: musubi-tuner"
                    f' appends caption_extension as written, so "{scan.caption_extension}"'
                    " needs its dot."
                    if scan.captions_with_dot
                    else "",
                },
            )
        for target, clips in sorted(scan.short.items()):
            add(
                "clips-shorter-than-target",
                _where(config, scan.index, "target_frames"),
                captures={"target": str(target), "count": str(len(clips))},
                text={"n": n, "clips": _sample(clips)},
            )
        unknown = [k for k, v in scan.frame_counts.items() if v is None]
        if (
            scan.short == {}
            and unknown
            and len(unknown) == len(scan.frame_counts)
            and scan.frame_counts
        ):
            add("clip-length-unknown", loc, text={"n": n, "count": len(unknown)})
    if step == "train":
        out.extend(_cache_findings(config, scans))
    return out


def _nearest(scan: DatasetScan, key: str, cwd: Path) -> tuple[str, list[FixAction]]:
    """A sentence naming the nearest folder with media, and the fix pointing the key there."""
    assert scan.directory is not None
    found = nearest_media_folder(scan.directory, _IMAGE if scan.kind == "image" else _VIDEO)
    if found is None:
        return "", []
    try:
        shown = found.path.relative_to(cwd).as_posix()
    except ValueError:
        shown = found.path.as_posix()
    what = f"{found.media} {scan.kind}{'s' if found.media != 1 else ''}"
    return (
        f" The nearest folder with {scan.kind}s is `{show_controls(str(found.path))}` ({what}).",
        [
            FixAction(
                "toml_set_key",
                {
                    "file": "dataset_config",
                    "table": f"datasets[{scan.index}]",
                    "key": key,
                    "value": json.dumps(shown),
                },
                label=f'Set {key} = "{shown}" ({what} there)',
            )
        ],
    )


def _jsonl_findings(config: DatasetConfig, scan: DatasetScan) -> list[Finding]:
    n = scan.index + 1
    key = f"{scan.kind}_jsonl_file"
    loc = _where(config, scan.index, key)
    jsonl = Location(str(scan.jsonl))
    if not scan.exists:
        return [
            emit(
                "dataset-jsonl-missing",
                origin="check",
                location=loc,
                text={"n": n, "key": key, "jsonl": scan.jsonl},
            )
        ]
    out: list[Finding] = []
    if scan.jsonl_bad:
        line, problem = scan.jsonl_bad[0]
        more = f" ({len(scan.jsonl_bad) - 1} more)" if len(scan.jsonl_bad) > 1 else ""
        out.append(
            emit(
                "dataset-jsonl-invalid",
                origin="check",
                location=Location(str(scan.jsonl), line or None),
                catalog="dataset-empty",  # the log rule's catalog is the TOML's invalid value
                text={"n": n, "line": line, "problem": problem, "more": more},
            )
        )
    if not scan.media and not scan.jsonl_bad:
        out.append(
            emit(
                "dataset-empty",
                origin="check",
                location=loc,
                priority=80,
                text={
                    "n": n,
                    "problem": f"the JSONL file lists no {scan.kind}s",
                    "source": scan.jsonl,
                    "detail": "is empty.",
                },
            )
        )
    if scan.captions_missing:
        out.append(
            emit(
                "caption-missing",
                origin="check",
                location=jsonl,
                text={
                    "n": n,
                    "items": f"{len(scan.captions_missing)} JSONL item(s)",
                    "caption": '"caption"',
                    "effect": "musubi-tuner fails with `KeyError: 'caption'`",
                    "files": _sample(scan.captions_missing),
                },
            )
        )
    from wantui.core.args.checkout import musubi_holds

    if scan.media_missing:
        order = (
            "the working directory, then the JSONL's folder (musubi-tuner >=0.3.5, PR #1023)"
            if musubi_holds(">=0.3.5")
            else "the working directory (musubi-tuner <=0.3.4; v0.3.5 also tries the JSONL's folder)"
        )
        out.append(
            emit(
                "dataset-media-missing",
                origin="check",
                location=jsonl,
                text={
                    "n": n,
                    "count": len(scan.media_missing),
                    "kind": scan.kind,
                    "order": order,
                    "files": _sample(scan.media_missing),
                },
            )
        )
    if scan.media_beside_jsonl:
        out.append(
            emit(
                "dataset-media-beside-jsonl",
                origin="check",
                location=jsonl,
                text={
                    "n": n,
                    "count": len(scan.media_beside_jsonl),
                    "files": _sample(scan.media_beside_jsonl),
                },
            )
        )
    if scan.extra_keys:
        keys = ", ".join(f"`{k}` ({c})" for k, c in sorted(scan.extra_keys.items())[:8])
        out.append(
            emit(
                "dataset-jsonl-extra-keys",
                origin="check",
                location=jsonl,
                text={"n": n, "kind": scan.kind, "keys": keys},
            )
        )
    return out


def _cache_findings(config: DatasetConfig, scans: list[DatasetScan]) -> list[Finding]:
    out: list[Finding] = []
    # training fails only when no dataset has an item; one empty dataset just trains on less
    nothing = sum(s.latent_caches for s in scans) == 0
    for scan in scans:
        if scan.cache_directory is None or (
            scan.directory is not None and not scan.exists and not nothing
        ):
            continue
        n = scan.index + 1
        loc = _where(
            config,
            scan.index,
            "cache_directory" if "cache_directory" in config.datasets[scan.index] else None,
        )
        severity = None if nothing else Severity.WARNING
        if scan.latent_caches == 0 and scan.directory is not None and not scan.media:
            # caching an empty or missing folder writes nothing: re-running it cannot help
            cause = "dataset-directory-missing" if not scan.exists else "dataset-empty"
            f = emit(
                "cache-missing",
                origin="check",
                location=loc,
                severity=severity,
                text={
                    "n": n,
                    "cache_directory": scan.cache_directory,
                    "detail": f", and caching cannot write one: the dataset has no {scan.kind}s"
                    f" (see above). Point it at the {scan.kind}s first, then run latent and"
                    " text-encoder caching.",
                },
            )
            f.consequence_of = cause
            out.append(f)
            continue
        if scan.latent_caches == 0:
            out.append(
                emit(
                    "cache-missing",
                    origin="check",
                    location=loc,
                    severity=severity,
                    text={
                        "n": n,
                        "cache_directory": scan.cache_directory,
                        "detail": "; "
                        + (
                            "training would stop with `No training items found in the dataset`."
                            if nothing
                            else "this dataset would add nothing to training."
                        )
                        + " Run latent caching, then text-encoder caching, with this dataset"
                        " config.",
                    },
                    fixes=[
                        FixAction("rerun_step", {"step": "latents"}, label="Run latent caching"),
                        FixAction("rerun_step", {"step": "te"}, label="Run text-encoder caching"),
                    ],
                )
            )
            continue
        if scan.missing_te:
            out.append(
                emit(
                    "te-cache-missing",
                    origin="check",
                    location=loc,
                    severity=None
                    if len(scan.missing_te) == len(scan.cached_stems)
                    else Severity.WARNING,
                    text={
                        "n": n,
                        "count": len(scan.missing_te),
                        "items": _sample(scan.missing_te),
                    },
                    fixes=[
                        FixAction("rerun_step", {"step": "te"}, label="Run text-encoder caching")
                    ],
                )
            )
        media_stems = {os.path.splitext(m)[0] for m in scan.media}
        uncached = sorted(media_stems - scan.cached_stems) if scan.media else []
        if uncached:
            out.append(
                emit(
                    "latent-cache-incomplete",
                    origin="check",
                    location=loc,
                    text={
                        "n": n,
                        "count": len(uncached),
                        "total": len(media_stems),
                        "kind": scan.kind,
                        "items": _sample(uncached),
                    },
                    fixes=[
                        FixAction("rerun_step", {"step": "latents"}, label="Run latent caching")
                    ],
                )
            )
    return out
