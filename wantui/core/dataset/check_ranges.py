"""Dataset values musubi-tuner divides by, loops over or repeats: zero and negatives.

The schema accepts any int, but musubi-tuner uses these values as loop bounds, range steps
and divisors (``wantui/core/args/semantics.json`` has the source lines): ``num_repeats = 0``
yields a dataset with no items (the run caches or trains on nothing and exits 0),
``batch_size = 0`` never fills a batch (latent caching spins forever), ``frame_stride = 0``
is a ``range()`` step of zero, ``source_fps = 0`` a division by zero.
"""

from __future__ import annotations

from typing import Any

from wantui.core.args.semantics import key_uses
from wantui.core.dataset.check_base import FILE, CheckerBase, toml_literal
from wantui.core.fixactions import FixAction

# key -> (what a value below the minimum does in musubi-tuner, the semantic-map use, the
# smallest value that works)
LIMITS: dict[str, tuple[str, str, int | float]] = {
    "batch_size": ("never fills a batch: latent caching loops forever", "loop", 1),
    "num_repeats": ("repeats every item zero times: no items, the run does nothing", "range", 1),
    "frame_stride": (
        "is a range() step: 0 raises ValueError, negative yields no window",
        "range",
        1,
    ),
    "frame_sample": ("takes no frame windows from any video: no items", "passes", 1),
    "max_frames": ("drops every video (no frame count fits): no items", "compares", 1),
    "source_fps": ("is divided by (target_fps / source_fps): ZeroDivisionError", "divides", 1),
    "resolution": ("is divided by (aspect ratio of the bucket): ZeroDivisionError", "divides", 16),
}


def _numbers(value: Any) -> list[int | float]:
    vals = value if isinstance(value, list) else [value]
    return [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]


class RangeChecks(CheckerBase):
    """Zero and negative values where musubi-tuner divides, loops or repeats."""

    def check_range(self, table: str, key: str, value: Any) -> None:
        if key not in LIMITS:
            return
        effect, use, minimum = LIMITS[key]
        bad = [v for v in _numbers(value) if v <= 0]
        if not bad:
            return
        where = key_uses(key, use)
        src = f" (musubi-tuner {where[0]})" if where else ""
        fixes = []
        if key != "resolution":
            fixes.append(
                FixAction(
                    "toml_set_key",
                    {"file": FILE, "table": table, "key": key, "value": toml_literal(minimum)},
                    label=f"Set {key} = {minimum}",
                )
            )
        self.emit(
            "dataset-value-not-positive",
            self.loc(table, key, value=True),
            fixes=fixes,
            captures={"key": key, "table": table, "value": toml_literal(value)},
            text={"effect": effect, "source": src},
        )
