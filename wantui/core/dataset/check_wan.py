"""Wan value rules of a dataset config: frame counts, resolution, frame extraction."""

from __future__ import annotations

from typing import Any

from wantui.core.dataset.check_base import FILE, CheckerBase, toml_literal
from wantui.core.dataset.schema import (
    FRAME_EXTRACTION,
    round_target_frames,
)
from wantui.core.finding import Severity
from wantui.core.fixactions import FixAction, toml_edits
from wantui.core.similar import did_you_mean


class WanValueChecks(CheckerBase):
    """Values musubi-tuner accepts but Wan trains badly or not at all with."""

    def check_video_rules(self, table: str, entry: dict[str, Any]) -> None:
        frames = entry.get("target_frames")
        if frames == []:
            # musubi: datasource.set_start_and_end_frame(0, max(self.target_frames))
            self.add(
                "target-frames-empty",
                "toml-invalid-value",
                Severity.ERROR,
                "target_frames is empty",
                "musubi-tuner takes `max(target_frames)` when it builds the dataset "
                "(image_video_dataset.py:671) and stops with `ValueError: max() arg is an empty "
                "sequence`; give at least one frame count, e.g. [1] or [17].",
                self.loc(table, "target_frames", value=True),
                fixes=[
                    FixAction(
                        "toml_set_key",
                        {"file": FILE, "table": table, "key": "target_frames", "value": "[1]"},
                        label="Set target_frames = [1]",
                    )
                ],
                steps=("latents",),
            )
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

    def width_height_fix(self, table: str, entry: dict[str, Any]) -> list[FixAction]:
        w, h = entry.get("width"), entry.get("height")
        if isinstance(w, int) and isinstance(h, int) and "resolution" not in entry:
            # one fix: resolution set alone would leave width and height, still rejected
            return [
                toml_edits(
                    f"Set resolution = [{w}, {h}] and remove width and height",
                    FixAction(
                        "toml_set_key",
                        {
                            "file": FILE,
                            "table": table,
                            "key": "resolution",
                            "value": toml_literal([w, h]),
                        },
                    ),
                    FixAction("toml_remove_key", {"file": FILE, "table": table, "key": "width"}),
                    FixAction("toml_remove_key", {"file": FILE, "table": table, "key": "height"}),
                )
            ]
        return []
