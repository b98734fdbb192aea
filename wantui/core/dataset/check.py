"""Validate a dataset config the way musubi-tuner v0.3.4 will, but report every problem.

voluptuous stops at the first problem and names it as ``data['datasets'][0]['path']``;
this checker walks the whole file, gives each problem its line and column, a catalog id,
a did-you-mean and typed fix actions (``file: dataset_config``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import tomlkit

from wantui.core.dataset.load import (
    DatasetConfig,
    parse_config_text,
    read_config_text,
    starts_with_bom,
)
from wantui.core.dataset.positions import BasicString, Pos, SourceMap, scan_positions
from wantui.core.dataset.schema import (
    ALL_DATASET_KEYS,
    ASCENDABLE,
    FRAME_EXTRACTION,
    IMAGE_EXTENSIONS,
    IMAGE_ONLY,
    IMAGE_SCHEMA,
    KEY_ALIASES,
    TOP_LEVEL,
    VIDEO_EXTENSIONS,
    VIDEO_ONLY,
    VIDEO_SCHEMA,
    KeySpec,
    round_target_frames,
    type_ok,
    voluptuous_expected,
)
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding, Location, Severity
from wantui.core.findings import FindingList, make_finding
from wantui.core.fixactions import FixAction
from wantui.core.similar import did_you_mean

FILE = "dataset_config"
_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "e": "\x1b",
}
_PATHLIKE = re.compile(r"^(?:[A-Za-z]:|\.{1,2}|~)?\\|[A-Za-z0-9_.-]\\[A-Za-z0-9_ .-]")


def toml_literal(value: Any) -> str:
    """A value as a TOML literal string (what toml_set_key's ``value`` carries)."""
    return tomlkit.item(value).as_string()


def voluptuous_path(table: str, key: str | None = None) -> str:
    """``general`` / ``datasets[0]`` -> ``data['general']`` / ``data['datasets'][0]``."""
    if table.startswith("datasets["):
        out = f"data['datasets'][{table[9:-1]}]"
    elif table:
        out = f"data['{table}']"
    else:
        out = "data"
    return out + (f"['{key}']" if key is not None else "")


class _Checker:
    def __init__(
        self, cfg: DatasetConfig | None, path: Path, text: str, positions: SourceMap
    ) -> None:
        self.cfg = cfg
        self.path = path
        self.text = text
        self.pos = positions
        self.out = FindingList()
        self.findings = self.out.findings

    # -- helpers -----------------------------------------------------------------------
    def loc(self, table: str, key: str | None = None, *, value: bool = False) -> Location:
        p: Pos | None = None
        if key is not None:
            p = self.pos.value(table, key) if value else self.pos.key(table, key)
        if p is None and table == "" and key is not None:
            p = self.pos.table(key)  # a top-level table: its [header]
        if p is None:
            p = self.pos.table(table)
        return Location(str(self.path), p.line if p else None, p.column if p else None)

    def add(
        self,
        rule: str,
        catalog: str,
        severity: Severity,
        title: str,
        message: str,
        location: Location | None,
        *,
        fixes: list[FixAction] | None = None,
        advice: list[str] | None = None,
        captures: dict[str, str] | None = None,
        steps: tuple[str, ...] = ("any",),
        priority: int = 60,
    ) -> None:
        self.out.add(
            rule,
            catalog,
            severity,
            title,
            message,
            origin="check",
            location=location,
            fixes=fixes,
            advice=advice,
            captures=captures,
            steps=steps,
            priority=priority,
        )

    # -- whole file --------------------------------------------------------------------
    def run(self) -> list[Finding]:
        self.check_backslashes()
        if self.cfg is None:
            return self.findings
        data = self.cfg.data
        for key in data:
            if key not in TOP_LEVEL:
                self.extra_key("", key, TOP_LEVEL)
        general = data.get("general")
        if general is not None and not isinstance(general, dict):
            self.add(
                "toml-invalid-value",
                "toml-invalid-value",
                Severity.ERROR,
                "`general` must be a table",
                f"`general` must be a `[general]` table ({voluptuous_path('general')}).",
                self.loc("", "general"),
            )
            general = None
        datasets = data.get("datasets")
        if datasets is not None and not (
            isinstance(datasets, list) and all(isinstance(d, dict) for d in datasets)
        ):
            self.add(
                "toml-invalid-value",
                "toml-invalid-value",
                Severity.ERROR,
                "`datasets` must be an array of tables",
                "Write each dataset as a `[[datasets]]` table.",
                self.loc("", "datasets"),
            )
            datasets = None
        entries: list[dict[str, Any]] = datasets or []
        self.check_general(general or {}, entries)
        for i, entry in enumerate(entries):
            self.check_entry(i, entry, general or {})
        self.check_cache_dirs(entries)
        if not entries:
            self.add(
                "dataset-no-source",
                "dataset-no-source",
                Severity.ERROR,
                "No [[datasets]] entry",
                "The config has no `[[datasets]]` table, so musubi-tuner finds nothing to cache or train on.",
                Location(str(self.path), 1, 1),
                advice=[
                    'Add a `[[datasets]]` table with `video_directory = "..."` or `image_directory = "..."`.'
                ],
            )
        return self.findings

    # -- [general] ---------------------------------------------------------------------
    def check_general(self, general: dict[str, Any], entries: list[dict[str, Any]]) -> None:
        for key, value in general.items():
            if key in ASCENDABLE:
                self.check_type("general", key, value, ASCENDABLE[key])
                continue
            if key in VIDEO_ONLY or key in IMAGE_ONLY:
                self.wrong_section(key, value, entries)
                continue
            self.extra_key("general", key, list(ASCENDABLE))

    def wrong_section(self, key: str, value: Any, entries: list[dict[str, Any]]) -> None:
        """A per-dataset key (``cache_directory``, ``target_frames``...) in ``[general]``."""
        fixes: list[FixAction] = []
        if len(entries) == 1 and key not in entries[0]:
            fixes.append(
                FixAction(
                    "toml_move_key",
                    {"file": FILE, "table": "general", "key": key, "to_table": "datasets[0]"},
                    label=f"Move `{key}` from [general] to the [[datasets]] entry",
                )
            )
        elif key != "cache_directory" and entries:
            # copy the value into every entry that lacks it, then drop it from [general]
            for i, entry in enumerate(entries):
                if key not in entry:
                    fixes.append(
                        FixAction(
                            "toml_set_key",
                            {
                                "file": FILE,
                                "table": f"datasets[{i}]",
                                "key": key,
                                "value": toml_literal(value),
                            },
                            label=f"Set `{key}` in [[datasets]] #{i + 1}",
                        )
                    )
            fixes.append(
                FixAction(
                    "toml_remove_key",
                    {"file": FILE, "table": "general", "key": key},
                    label=f"Remove `{key}` from [general]",
                )
            )
        else:
            # one cache_directory for several datasets would be shared: removing it is safe,
            # each dataset then caches beside its media
            fixes.append(
                FixAction(
                    "toml_remove_key",
                    {"file": FILE, "table": "general", "key": key},
                    label=f"Remove `{key}` from [general]",
                )
            )
        self.add(
            "toml-key-wrong-section",
            "toml-extra-key",
            Severity.ERROR,
            f"`{key}` belongs in [[datasets]], not [general]",
            f"`{key}` is a per-dataset key; in [general] musubi-tuner rejects it with "
            f"`extra keys not allowed @ {voluptuous_path('general', key)}`.",
            self.loc("general", key),
            fixes=fixes,
            captures={"key": key, "table": "general"},
        )

    # -- one [[datasets]] entry --------------------------------------------------------
    def check_entry(self, i: int, entry: dict[str, Any], general: dict[str, Any]) -> None:
        table = f"datasets[{i}]"
        is_video = _intended_video(entry, self)
        schema = VIDEO_SCHEMA if is_video else IMAGE_SCHEMA
        for key, value in entry.items():
            if key in schema:
                self.check_type(table, key, value, schema[key])
                continue
            other = IMAGE_ONLY if is_video else VIDEO_ONLY
            if key in other:
                kind, other_kind = ("video", "image") if is_video else ("image", "video")
                self.add(
                    "toml-key-wrong-kind",
                    "toml-extra-key",
                    Severity.ERROR,
                    f"`{key}` is {'an image' if is_video else 'a video'}-dataset key in {'a video' if is_video else 'an image'} dataset",
                    f"This entry is a {kind} dataset ({'it has `video_directory`' if is_video else 'it has no `video_directory`'}), "
                    f"so musubi-tuner rejects `{key}` with `extra keys not allowed @ {voluptuous_path(table, key)}`. "
                    f"Put {other_kind}s in their own [[datasets]] entry.",
                    self.loc(table, key),
                    fixes=[
                        FixAction(
                            "toml_remove_key",
                            {"file": FILE, "table": table, "key": key},
                            label=f"Remove `{key}` (move it to its own [[datasets]] entry by hand)",
                            auto=key not in ("image_directory", "video_directory"),
                        )
                    ],
                    captures={"key": key, "table": table},
                )
                continue
            self.extra_key(table, key, list(schema), entry=entry)
        if not any(
            k in entry
            for k in ("video_directory", "video_jsonl_file", "image_directory", "image_jsonl_file")
        ):
            renamed = any(KEY_ALIASES.get(k, "") is None for k in entry)
            self.add(
                "dataset-no-source",
                "dataset-no-source",
                Severity.ERROR,
                f"[[datasets]] #{i + 1} has no video_directory or image_directory",
                "An entry without `video_directory`, `video_jsonl_file`, `image_directory` or `image_jsonl_file` "
                "passes the schema but crashes with `AttributeError: 'VideoDataset' object has no attribute "
                "'datasource'`.",
                self.loc(table),
                advice=[
                    "Rename the path key (see the finding above)."
                    if renamed
                    else 'Add `video_directory = "path/to/videos"` (or `image_directory`), relative to the '
                    "folder you run musubi-tuner from."
                ],
                captures={"table": table},
            )
            if renamed:  # the unknown-key finding and its rename fix are the root cause
                self.findings[-1].consequence_of = "toml-extra-key"
        if is_video:
            self.check_video_rules(table, entry)
        cap = entry.get("caption_extension", general.get("caption_extension"))
        has_jsonl = "video_jsonl_file" in entry or "image_jsonl_file" in entry
        if cap is None and not has_jsonl:
            where = "general" if "general" in (self.cfg.data if self.cfg else {}) else table
            self.add(
                "caption-extension-unset",
                "caption-missing",
                Severity.ERROR,
                "caption_extension is not set",
                "Without `caption_extension` musubi-tuner looks for the caption at the path `''` and fails with "
                "`FileNotFoundError: [Errno 2] No such file or directory: ''`.",
                self.loc(table),
                fixes=[
                    FixAction(
                        "toml_set_key",
                        {
                            "file": FILE,
                            "table": where,
                            "key": "caption_extension",
                            "value": '".txt"',
                        },
                        label='Set caption_extension = ".txt"',
                    )
                ],
                steps=("latents", "te"),
                captures={"table": table},
            )
        elif isinstance(cap, str) and cap and not cap.startswith("."):
            where = table if "caption_extension" in entry else "general"
            self.add(
                "caption-extension-no-dot",
                "caption-missing",
                Severity.WARNING,
                f'caption_extension "{cap}" has no leading dot',
                f'The caption of `clip.mp4` would be `clip{cap}`, not `clip.{cap}`; write ".{cap}".',
                self.loc(where, "caption_extension", value=True),
                fixes=[
                    FixAction(
                        "toml_set_key",
                        {
                            "file": FILE,
                            "table": where,
                            "key": "caption_extension",
                            "value": toml_literal("." + cap),
                        },
                        label=f'Set caption_extension = ".{cap}"',
                    )
                ],
                steps=("latents", "te"),
            )
        if has_jsonl and "cache_directory" not in entry:
            self.add(
                "dataset-jsonl-no-cache-dir",
                "dataset-no-source",
                Severity.ERROR,
                "A JSONL dataset needs cache_directory",
                "With a JSONL file and no `cache_directory`, musubi-tuner fails with "
                "`AssertionError: cache_directory is required`.",
                self.loc(table),
                advice=['Add `cache_directory = "path/to/cache"` to this entry.'],
                captures={"table": table},
            )

    def check_video_rules(self, table: str, entry: dict[str, Any]) -> None:
        frames = entry.get("target_frames")
        if (
            isinstance(frames, list)
            and frames
            and all(isinstance(v, int) and not isinstance(v, bool) for v in frames)
        ):
            bad = [v for v in frames if v < 1]
            if bad:
                self.add(
                    "target-frames-not-positive",
                    "toml-invalid-value",
                    Severity.ERROR,
                    f"target_frames contains {bad}",
                    "A target of 0 or less rounds to a negative frame count; every value must be at least 1.",
                    self.loc(table, "target_frames", value=True),
                    fixes=[
                        FixAction(
                            "toml_set_key",
                            {
                                "file": FILE,
                                "table": table,
                                "key": "target_frames",
                                "value": toml_literal(
                                    round_target_frames([v for v in frames if v >= 1]) or [1]
                                ),
                            },
                            label="Drop the values below 1",
                        )
                    ],
                    steps=("latents",),
                )
            else:
                rounded = round_target_frames(frames)
                if rounded != sorted(set(frames)):
                    changed = ", ".join(
                        f"{v} -> {(v - 1) // 4 * 4 + 1}" for v in frames if (v - 1) % 4
                    )
                    self.add(
                        "target-frames-rounded",
                        "target-frames-rounded",
                        Severity.WARNING,
                        f"target_frames {frames} will be rounded down to {rounded}",
                        f"Wan needs 4N+1 frames; musubi-tuner rounds each value down ({changed}) and logs "
                        f"`target_frames are rounded to {rounded}`.",
                        self.loc(table, "target_frames", value=True),
                        fixes=[
                            FixAction(
                                "toml_set_key",
                                {
                                    "file": FILE,
                                    "table": table,
                                    "key": "target_frames",
                                    "value": toml_literal(rounded),
                                },
                                label=f"Set target_frames = {rounded}",
                            )
                        ],
                        captures={"target_frames": str(frames), "rounded": str(rounded)},
                        steps=("latents",),
                        priority=40,
                    )
        fe = entry.get("frame_extraction")
        if isinstance(fe, str) and fe not in FRAME_EXTRACTION:
            hit = did_you_mean(fe, FRAME_EXTRACTION) or "head"
            self.add(
                "frame-extraction-invalid",
                "frame-extraction-invalid",
                Severity.ERROR,
                f'frame_extraction "{fe}" is not supported',
                f"The schema accepts any string, but latent caching fails with "
                f"`ValueError: frame_extraction {fe} is not supported`. Choices: {', '.join(FRAME_EXTRACTION)}.",
                self.loc(table, "frame_extraction", value=True),
                fixes=[
                    FixAction(
                        "toml_set_key",
                        {
                            "file": FILE,
                            "table": table,
                            "key": "frame_extraction",
                            "value": toml_literal(hit),
                        },
                        label=f'Set frame_extraction = "{hit}"',
                    )
                ],
                captures={"value": fe},
                steps=("latents",),
            )
        elif fe == "uniform" and entry.get("frame_sample", 1) == 1:
            self.add(
                "frame-extraction-uniform-one-sample",
                "frame-extraction-invalid",
                Severity.INFO,
                'frame_extraction "uniform" with frame_sample = 1 acts as "head"',
                "musubi-tuner switches to `head` with a warning; set `frame_sample` above 1 for several windows.",
                self.loc(table, "frame_extraction", value=True),
                steps=("latents",),
                priority=10,
            )

    # -- keys and types ----------------------------------------------------------------
    def extra_key(
        self, table: str, key: str, allowed: list[str] | tuple[str, ...], entry: dict | None = None
    ) -> None:
        """An unknown key: suggest the right one, fix by renaming (or removing)."""
        alias = KEY_ALIASES.get(key, "")
        target: str | None
        if alias is None:
            target = self.guess_source_key(entry or {}, key, table)
        elif alias:
            target = alias
        else:
            target = did_you_mean(key, allowed)
        fixes: list[FixAction] = []
        in_scope = target is not None and target in allowed
        exists = (
            entry is not None
            and target in entry
            or table == "general"
            and target in self.general_keys()
        )
        value = (entry or {}).get(key)
        if (
            in_scope
            and not exists
            and target == "target_frames"
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            # `num_frames = 17` renamed would be `target_frames = 17`, which is the wrong
            # type: write the list musubi-tuner wants (the remove fix below drops the old key)
            fixes.append(
                FixAction(
                    "toml_set_key",
                    {"file": FILE, "table": table, "key": target, "value": [value]},
                    label=f"Set `{target} = [{value}]` (from `{key}`)",
                )
            )
        elif in_scope and not exists and key not in ("width", "height"):
            fixes.append(
                FixAction(
                    "toml_rename_key",
                    {"file": FILE, "table": table, "key": key, "new_key": target},
                    label=f"Rename `{key}` to `{target}`",
                )
            )
        if key in ("width", "height") and table:
            fixes.extend(
                self.width_height_fix(table, entry if entry is not None else self.general_keys())
            )
        fixes.append(
            FixAction(
                "toml_remove_key",
                {"file": FILE, "table": table, "key": key},
                label=f"Remove `{key}`",
            )
        )
        hint = ""
        if target == "batch_size" and key == "train_batch_size":
            hint = " (musubi-tuner's batch size lives in the TOML as `batch_size`)"
        where = (
            f"[{table}]"
            if table and not table.startswith("datasets")
            else f"[[datasets]] #{int(table[9:-1]) + 1}"
            if table
            else "the top level"
        )
        self.add(
            "toml-extra-key",
            "toml-extra-key",
            Severity.ERROR,
            f"Unknown key `{key}` in {where}" + (f" (did you mean `{target}`?)" if target else ""),
            f"musubi-tuner rejects it: `extra keys not allowed @ {voluptuous_path(table, key)}`{hint}.",
            self.loc(table, key),
            fixes=fixes,
            captures={"key": key, "table": table, "suggestion": target or ""},
        )

    def general_keys(self) -> dict[str, Any]:
        return self.cfg.general if self.cfg else {}

    def guess_source_key(self, entry: dict[str, Any], key: str, table: str) -> str:
        """``path = "..."``: video_directory or image_directory, from the entry and the folder."""
        if any(k in entry for k in VIDEO_ONLY if k not in ("cache_directory", "control_directory")):
            return "video_directory"
        value = entry.get(key)
        if isinstance(value, str):
            try:
                with os.scandir(value) as it:
                    videos = images = 0
                    for n, de in enumerate(it):
                        ext = os.path.splitext(de.name)[1].lower()
                        videos += ext in VIDEO_EXTENSIONS
                        images += ext in IMAGE_EXTENSIONS
                        if n > 2000:
                            break
                if images > videos:
                    return "image_directory"
            except OSError:
                pass
        return "video_directory"

    def width_height_fix(self, table: str, entry: dict[str, Any]) -> list[FixAction]:
        w, h = entry.get("width"), entry.get("height")
        if isinstance(w, int) and isinstance(h, int) and "resolution" not in entry:
            return [
                FixAction(
                    "toml_set_key",
                    {
                        "file": FILE,
                        "table": table,
                        "key": "resolution",
                        "value": toml_literal([w, h]),
                    },
                    label=f"Set resolution = [{w}, {h}] (then remove width and height)",
                )
            ]
        return []

    def check_type(self, table: str, key: str, value: Any, spec: KeySpec) -> None:
        if type_ok(spec.type, value):
            if spec.type == "int2" and key == "resolution":
                self.check_resolution(table, value)
            return
        fixed = _convert(spec.type, value)
        fixes = []
        if fixed is not None:
            fixes.append(
                FixAction(
                    "toml_set_key",
                    {"file": FILE, "table": table, "key": key, "value": toml_literal(fixed)},
                    label=f"Set {key} = {toml_literal(fixed)}",
                )
            )
        self.add(
            "toml-invalid-value",
            "toml-invalid-value",
            Severity.ERROR,
            f"`{key}` has the wrong type ({_describe(spec.type)} expected)",
            f"`{key} = {toml_literal(value) if value is not None else value}` is rejected: "
            f"`{voluptuous_expected(spec.type)} for dictionary value @ {voluptuous_path(table, key)}`"
            + (f". Write `{key} = {toml_literal(fixed)}`." if fixed is not None else "."),
            self.loc(table, key, value=True),
            fixes=fixes,
            captures={"key": key, "table": table},
        )

    def check_resolution(self, table: str, value: Any) -> None:
        wh = [value, value] if isinstance(value, int) else list(value)
        if any(v % 16 for v in wh) or any(v <= 0 for v in wh):
            fixed = [max(16, round(v / 16) * 16) for v in wh]
            self.add(
                "resolution-not-multiple-of-16",
                "toml-invalid-value",
                Severity.WARNING,
                f"resolution {wh} is not a multiple of 16",
                "Wan buckets step by 16; with `enable_bucket = false` the size is used as is, unchecked.",
                self.loc(table, "resolution", value=True),
                fixes=[
                    FixAction(
                        "toml_set_key",
                        {
                            "file": FILE,
                            "table": table,
                            "key": "resolution",
                            "value": toml_literal(fixed),
                        },
                        label=f"Set resolution = {fixed}",
                    )
                ],
                priority=20,
            )

    # -- cache directories -------------------------------------------------------------
    def check_cache_dirs(self, entries: list[dict[str, Any]]) -> None:
        seen: dict[str, int] = {}
        used = {
            _norm(self.cwd, e.get("cache_directory"))
            for e in entries
            if isinstance(e.get("cache_directory"), str)
        }
        for i, entry in enumerate(entries):
            cache = entry.get("cache_directory")
            media = entry.get("video_directory") or entry.get("image_directory")
            effective = (
                cache if isinstance(cache, str) else media if isinstance(media, str) else None
            )
            if effective is None:
                continue
            key = _norm(self.cwd, effective)
            if key not in seen:
                seen[key] = i
                continue
            first = seen[key]
            table = f"datasets[{i}]"
            base = (media if isinstance(media, str) else effective).rstrip("/\\") or "dataset"
            suggestion = f"{base}_cache"
            n = 2
            while _norm(self.cwd, suggestion) in used or _norm(self.cwd, suggestion) in seen:
                suggestion = f"{base}_cache{n}"
                n += 1
            used.add(_norm(self.cwd, suggestion))
            implicit = "" if isinstance(cache, str) else " (the default: its media folder)"
            self.add(
                "dataset-cache-dir-shared",
                "dataset-cache-dir-shared",
                Severity.ERROR,
                f"[[datasets]] #{i + 1} shares its cache directory with #{first + 1}",
                f"Both datasets cache into `{effective}`{implicit}; musubi-tuner stops with "
                "`ValueError: cache directory should be unique for each dataset`.",
                self.loc(table, "cache_directory", value=True)
                if isinstance(cache, str)
                else self.loc(table),
                fixes=[
                    FixAction(
                        "toml_set_key",
                        {
                            "file": FILE,
                            "table": table,
                            "key": "cache_directory",
                            "value": toml_literal(suggestion),
                        },
                        label=f'Set cache_directory = "{suggestion}"',
                    )
                ],
                captures={"cache_directory": effective, "table": table},
            )

    cwd: Path = Path(".")

    # -- Windows backslashes -----------------------------------------------------------
    def check_backslashes(self) -> None:
        for s in self.pos.strings:
            if "\\" not in s.raw:
                continue
            decoded, invalid = _decode_basic(s.raw)
            changed = any(c in decoded for c in "\b\t\n\f\r\x1b")
            if not invalid and not (changed and _PATHLIKE.search(s.raw)):
                continue
            fixed = s.raw.replace("\\\\", "\x00").replace("\\", "/").replace("\x00", "/")
            fixes = []
            if s.key and s.table is not None:
                fixes.append(
                    FixAction(
                        "toml_set_key",
                        {
                            "file": FILE,
                            "table": s.table,
                            "key": s.key,
                            "value": toml_literal(fixed),
                        },
                        label=f'Write the path with forward slashes: "{fixed}"',
                        auto=not invalid,  # a file that does not parse cannot be edited with tomlkit
                    )
                )
            where = Location(str(self.path), s.pos.line, s.pos.column)
            if invalid:
                self.add(
                    "toml-windows-backslash",
                    "toml-parse-error",
                    Severity.ERROR,
                    "Backslashes in a double-quoted TOML string",
                    f'`"{s.raw}"` contains `\\{invalid}`, which is not a TOML escape: the file does not parse '
                    "(`TomlDecodeError: Reserved escape sequence used`).",
                    where,
                    fixes=fixes,
                    advice=[
                        f"Write `\"{fixed}\"` or `'{s.raw}'` (single quotes keep backslashes as they are)."
                    ],
                    captures={"value": s.raw},
                    priority=90,
                )
            else:
                shown = decoded.encode("unicode_escape").decode("ascii")
                self.add(
                    "toml-windows-backslash",
                    "toml-invalid-value",
                    Severity.ERROR,
                    "A Windows path silently changed by TOML escapes",
                    f'`"{s.raw}"` parses, but `\\t`, `\\n`, `\\b`, `\\f`, `\\r` are escapes: musubi-tuner reads '
                    f"`{shown}`, a path that does not exist.",
                    where,
                    fixes=fixes,
                    advice=[f"Write `\"{fixed}\"` or `'{s.raw}'`."],
                    captures={"value": s.raw},
                    priority=80,
                )


def _intended_video(entry: dict[str, Any], checker: _Checker) -> bool:
    """Whether an entry is (or is meant to be) a video dataset.

    musubi-tuner validates an entry without ``video_directory``/``video_jsonl_file`` as an
    image dataset; but when it has no source at all and a ``path``-like key or video-only
    keys, the user meant a video dataset, and reporting ``target_frames`` as "extra" would
    send them the wrong way.
    """
    if "video_directory" in entry or "video_jsonl_file" in entry:
        return True
    if "image_directory" in entry or "image_jsonl_file" in entry:
        return False
    for key in entry:
        if KEY_ALIASES.get(key, "") is None:
            return checker.guess_source_key(entry, key, "") == "video_directory"
    shared = ("cache_directory", "control_directory", "fp_latent_window_size")
    return any(k in VIDEO_ONLY and k not in shared for k in entry) or any(
        KEY_ALIASES.get(k) in VIDEO_ONLY for k in entry
    )


def _decode_basic(raw: str) -> tuple[str, str]:
    """Decode TOML basic-string escapes; return (text, first invalid escape char or "")."""
    out: list[str] = []
    i = 0
    invalid = ""
    while i < len(raw):
        c = raw[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in ("u", "U"):
            n = 4 if nxt == "u" else 8
            digits = raw[i + 2 : i + 2 + n]
            if len(digits) == n and all(d in "0123456789abcdefABCDEF" for d in digits):
                out.append("?")
                i += 2 + n
            else:
                invalid = invalid or nxt
                i += 2
        else:
            invalid = invalid or nxt or "\\"
            out.append(nxt)
            i += 2
    return "".join(out), invalid


def _norm(cwd: Path, p: str) -> str:
    path = Path(os.path.expanduser(p))
    if not path.is_absolute():
        path = cwd / path
    return os.path.normcase(os.path.normpath(str(path)))


def _describe(spec_type: str) -> str:
    return {
        "str": "a string",
        "int": "an integer",
        "float": "a float like 30.0",
        "bool": "true or false",
        "int_list": "a list of integers like [1, 17]",
        "int2": "an integer or [width, height]",
    }[spec_type]


def _convert(spec_type: str, value: Any) -> Any:
    """The value converted to the expected type when the intent is unambiguous, else None."""
    try:
        if spec_type == "float" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if spec_type == "float" and isinstance(value, str):
            return float(value)
        if spec_type == "int" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if spec_type == "int" and isinstance(value, float) and value.is_integer():
            return int(value)
        if (
            spec_type == "bool"
            and isinstance(value, str)
            and value.strip().lower() in ("true", "false")
        ):
            return value.strip().lower() == "true"
        if spec_type == "bool" and isinstance(value, int) and value in (0, 1):
            return bool(value)
        if spec_type == "int_list" and isinstance(value, int) and not isinstance(value, bool):
            return [value]
        if (
            spec_type == "int_list"
            and isinstance(value, list)
            and all(isinstance(v, (int, float, str)) for v in value)
        ):
            converted = [int(v) for v in value]
            return (
                converted if all(float(a) == float(b) for a, b in zip(converted, value)) else None
            )
        if spec_type == "int_list" and isinstance(value, str):
            return [int(v) for v in re.split(r"[,\s]+", value.strip("[] ")) if v]
        if (
            spec_type == "int2"
            and isinstance(value, list)
            and len(value) >= 2
            and all(isinstance(v, int) for v in value[:2])
        ):
            return list(value[:2])
        if spec_type == "str" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    except (ValueError, TypeError, OverflowError):
        return None
    return None


def check_config(cfg: DatasetConfig, cwd: Path | str | None = None) -> list[Finding]:
    """Schema and Wan rules for an already-loaded config."""
    checker = _Checker(cfg, cfg.path, cfg.text, cfg.positions)
    checker.cwd = Path(cwd) if cwd is not None else Path.cwd()
    return checker.run()


# characters a word processor, a web page or a Japanese IME puts where TOML needs ASCII
_LOOKALIKES = {
    "\u201c": '"',
    "\u201d": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u3000": "a space",
    "\u00a0": "a space",
    "\uff1d": "=",
    "\uff0c": ",",
    "\uff3b": "[",
    "\uff3d": "]",
    "\uff02": '"',
    "\uff0e": ".",
}


def _lookalike_advice(text: str, line: int | None) -> list[str]:
    """Name the look-alike characters on the failing line (the error only shows one)."""
    if not line:
        return []
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return []
    found = [ch for ch in _LOOKALIKES if ch in lines[line - 1]]
    if not found:
        return []
    swaps = ", ".join(f"`{ch}` (U+{ord(ch):04X}) with {_LOOKALIKES[ch]}" for ch in found)
    return [
        f"Line {line} has characters that look like TOML syntax but are not: replace {swaps}. "
        "They come from word processors, web pages and full-width (IME) input."
    ]


def parse_error_findings(err: WantuiError, path: Path, text: str) -> list[Finding]:
    """A syntax error as findings: the error with line/column, plus the backslash cause."""
    checker = _Checker(None, path, text, scan_positions(text))
    checker.run()
    on_line = [f for f in checker.findings if f.catalog == "toml-parse-error"]
    if on_line:
        # a Windows path explains the syntax error: that finding is the root cause
        return on_line + [f for f in checker.findings if f.catalog != "toml-parse-error"]
    kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
    return [
        make_finding(
            "toml-parse-error",
            "toml-parse-error",
            Severity.ERROR,
            f"The dataset config is not valid {kind}",
            f"{err.message}. musubi-tuner stops with `Error on parsing {kind} config file`.",
            origin="check",
            location=Location(str(path), err.line, err.column),
            advice=_lookalike_advice(text, err.line),
            steps=(),
            priority=90,
        ),
        *checker.findings,
    ]


def bom_finding(path: Path) -> Finding:
    """The file starts with a BOM: musubi-tuner's toml (0.10) and json readers fail on it."""
    json_file = path.suffix.lower() == ".json"
    return make_finding(
        "dataset-config-bom",
        "toml-parse-error",
        Severity.ERROR,
        "The dataset config starts with a BOM (UTF-8 with BOM)",
        "musubi-tuner cannot read it: "
        + (
            "`json.load` stops with `Unexpected UTF-8 BOM`."
            if json_file
            else "`toml.load` stops with `Found invalid character in key name` on line 1, "
            "after `Error on parsing TOML config file`."
        ),
        origin="check",
        location=Location(str(path), 1, 1),
        advice=[
            "Save the file as UTF-8 without BOM (Notepad: Save As, Encoding: UTF-8; "
            "VS Code: click 'UTF-8 with BOM' in the status bar, 'Save with Encoding', 'UTF-8').",
        ]
        + (
            [] if json_file else ["Any other fix wantui applies to this file also removes the BOM."]
        ),
        steps=(),
        priority=95,
    )


def check_dataset_config(
    path: str | os.PathLike[str], cwd: Path | str | None = None
) -> list[Finding]:
    """Every problem of a dataset config file as Findings.

    A file that cannot be read at all (missing, a folder, binary, not UTF-8, huge) raises
    WantuiError; a file that does not parse is a ``toml-parse-error`` finding.
    """
    p = Path(path)
    text = read_config_text(p)
    bom = [bom_finding(p)] if starts_with_bom(p) else []
    try:
        cfg = parse_config_text(text, p)
    except WantuiError as err:
        return bom + parse_error_findings(err, p, text)
    return bom + check_config(cfg, cwd)


__all__ = [
    "ALL_DATASET_KEYS",
    "BasicString",
    "bom_finding",
    "check_config",
    "check_dataset_config",
    "parse_error_findings",
    "toml_literal",
    "voluptuous_path",
]
