"""Schema checks of a dataset config: tables, keys, types, sections, as voluptuous sees them."""

from __future__ import annotations

import os
import re
from typing import Any

from wantui.core.dataset.check_base import FILE, CheckerBase, toml_literal, voluptuous_path
from wantui.core.dataset.schema import (
    IMAGE_EXTENSIONS,
    IMAGE_ONLY,
    IMAGE_SCHEMA,
    KEY_ALIASES,
    VIDEO_EXTENSIONS,
    VIDEO_ONLY,
    VIDEO_SCHEMA,
    KeySpec,
    type_ok,
    voluptuous_expected,
)
from wantui.core.fixactions import FixAction, toml_edits
from wantui.core.similar import did_you_mean


class SchemaChecks(CheckerBase):
    """Whole file, [general] and each [[datasets]] entry against the schema."""

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
                self.emit(
                    "toml-key-wrong-kind",
                    self.loc(table, key),
                    captures={"key": key, "table": table},
                    text={
                        "key_kind": "an image" if is_video else "a video",
                        "entry_kind": "a video" if is_video else "an image",
                        "kind": kind,
                        "why": "it has `video_directory`"
                        if is_video
                        else "it has no `video_directory`",
                        "path": voluptuous_path(table, key),
                        "other_kind": other_kind,
                    },
                    fixes=[
                        FixAction(
                            "toml_remove_key",
                            {"file": FILE, "table": table, "key": key},
                            label=f"Remove `{key}` (move it to its own [[datasets]] entry by hand)",
                            auto=key not in ("image_directory", "video_directory"),
                        )
                    ],
                )
                continue
            self.extra_key(table, key, list(schema), entry=entry)
        if not any(
            k in entry
            for k in ("video_directory", "video_jsonl_file", "image_directory", "image_jsonl_file")
        ):
            renamed = any(KEY_ALIASES.get(k, "") is None for k in entry)
            self.emit(
                "dataset-no-source",
                self.loc(table),
                captures={"table": table},
                text={
                    "n": i + 1,
                    "entry": f"[[datasets]] #{i + 1} has no video_directory or image_directory",
                    "renamed": "yes" if renamed else "",
                },
            )
            if renamed:  # the unknown-key finding and its rename fix are the root cause
                self.findings[-1].consequence_of = "toml-extra-key"
        if is_video:
            self.check_video_rules(table, entry)
        cap = entry.get("caption_extension", general.get("caption_extension"))
        has_jsonl = "video_jsonl_file" in entry or "image_jsonl_file" in entry
        if cap is None and not has_jsonl:
            where = "general" if "general" in (self.cfg.data if self.cfg else {}) else table
            self.emit(
                "caption-extension-unset",
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
                captures={"table": table},
            )
        elif (
            isinstance(cap, str)
            and cap
            and not cap.startswith(".")
            and not self._said_no_dot(where := table if "caption_extension" in entry else "general")
        ):
            self.emit(
                "caption-extension-no-dot",
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
                captures={"caption_extension": cap, "table": where},
            )
        if has_jsonl and "cache_directory" not in entry:
            self.emit("dataset-jsonl-no-cache-dir", self.loc(table), captures={"table": table})

    def _said_no_dot(self, where: str) -> bool:
        """One finding for a dot-less caption_extension in [general], not one per entry."""
        return any(
            f.rule == "caption-extension-no-dot" and f.captures.get("table") == where
            for f in self.findings
        )

    def extra_key(
        self, table: str, key: str, allowed: list[str] | tuple[str, ...], entry: dict | None = None
    ) -> None:
        """An unknown key: suggest the right one, fix by renaming (or removing). A key the
        user's own musubi-tuner accepts is reported as info (it knows more than v0.3.4)."""
        from wantui.core.args.checkout import install_dataset_keys

        known = install_dataset_keys("general" if table == "general" else "datasets")
        if key in known:
            self.emit(
                "toml-key-from-install", self.loc(table, key), captures={"key": key, "table": table}
            )
            return
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
            # type: write the list musubi-tuner wants and drop the old key, as one fix
            fixes.append(
                toml_edits(
                    f"Set `{target} = [{value}]` and remove `{key}`",
                    FixAction(
                        "toml_set_key",
                        {"file": FILE, "table": table, "key": target, "value": [value]},
                    ),
                    FixAction("toml_remove_key", {"file": FILE, "table": table, "key": key}),
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
        self.emit(
            "toml-extra-key",
            self.loc(table, key),
            fixes=fixes,
            captures={"key": key, "table": table, "suggestion": target or ""},
            text={
                "where": where,
                "did_you_mean": f" (did you mean `{target}`?)" if target else "",
                "path": voluptuous_path(table, key),
                "hint": hint,
            },
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

    def check_type(self, table: str, key: str, value: Any, spec: KeySpec) -> None:
        if type_ok(spec.type, value):
            self.check_range(table, key, value)  # type: ignore[attr-defined]
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
        self.emit(
            "toml-invalid-value",
            self.loc(table, key, value=True),
            fixes=fixes,
            captures={"key": key, "table": table},
            text={
                "problem": f"has the wrong type ({_describe(spec.type)} expected)",
                "detail": f"`{key} = {toml_literal(value) if value is not None else value}` is"
                f" rejected: `{voluptuous_expected(spec.type)} for dictionary value @"
                f" {voluptuous_path(table, key)}`"
                + (f". Write `{key} = {toml_literal(fixed)}`." if fixed is not None else "."),
            },
        )

    def check_resolution(self, table: str, value: Any) -> None:
        wh = [value, value] if isinstance(value, int) else list(value)
        if any(v <= 0 for v in wh):
            return  # check_range's error: musubi divides by it
        if any(v % 16 for v in wh) or any(v <= 0 for v in wh):
            fixed = [max(16, round(v / 16) * 16) for v in wh]
            self.emit(
                "resolution-not-multiple-of-16",
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
                text={"resolution": wh},
            )

    # -- cache directories -------------------------------------------------------------


def _intended_video(entry: dict[str, Any], checker: SchemaChecks) -> bool:
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
