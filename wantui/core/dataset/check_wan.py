"""Wan value rules of a dataset config: frame counts, resolution, frame extraction."""

from __future__ import annotations

from typing import Any

from wantui.core.dataset.check_base import FILE, CheckerBase, toml_literal
from wantui.core.dataset.schema import (
    FRAME_EXTRACTION,
    round_target_frames,
)
from wantui.core.fixactions import FixAction, toml_edits
from wantui.core.similar import did_you_mean


class WanValueChecks(CheckerBase):
    """Values musubi-tuner accepts but Wan trains badly or not at all with."""

    def check_video_rules(self, table: str, entry: dict[str, Any]) -> None:
        frames = entry.get("target_frames")
        if frames == []:
            # musubi: datasource.set_start_and_end_frame(0, max(self.target_frames))
            self.emit(
                "target-frames-empty",
                self.loc(table, "target_frames", value=True),
                fixes=[
                    FixAction(
                        "toml_set_key",
                        {"file": FILE, "table": table, "key": "target_frames", "value": "[1]"},
                        label="Set target_frames = [1]",
                    )
                ],
            )
        if (
            isinstance(frames, list)
            and frames
            and all(isinstance(v, int) and not isinstance(v, bool) for v in frames)
        ):
            bad = [v for v in frames if v < 1]
            if bad:
                self.emit(
                    "target-frames-not-positive",
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
                    text={"bad": bad},
                )
            else:
                rounded = round_target_frames(frames)
                if rounded != sorted(set(frames)):
                    changed = ", ".join(
                        f"{v} -> {(v - 1) // 4 * 4 + 1}" for v in frames if (v - 1) % 4
                    )
                    self.emit(
                        "target-frames-rounded",
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
                        text={"changed": changed},
                    )
        fe = entry.get("frame_extraction")
        if isinstance(fe, str) and fe not in FRAME_EXTRACTION:
            hit = did_you_mean(fe, FRAME_EXTRACTION) or "head"
            self.emit(
                "frame-extraction-invalid",
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
                text={"choices": ", ".join(FRAME_EXTRACTION), "suggestion": hit},
            )
        elif fe == "uniform" and entry.get("frame_sample", 1) == 1:
            self.emit(
                "frame-extraction-uniform-one-sample",
                self.loc(table, "frame_extraction", value=True),
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
