"""The rented GPU's meter: time and money so far, and the estimate to the end.

Pure arithmetic on the run's wall time (from run.json's ``started``) and the training
bar's progress; the price per hour comes from ``--price``, ``WANTUI_PRICE_PER_HOUR``,
``[project] price_per_hour`` or the user's config (:mod:`wantui.core.away.config`).
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass


def parse_iso(stamp: str | None) -> float | None:
    """run.json's ``YYYY-mm-ddTHH:MM:SS.mmmZ`` as epoch seconds."""
    if not stamp:
        return None
    try:
        base, _, frac = stamp.rstrip("Z").partition(".")
        secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
        return secs + (int(frac) / 1000 if frac.isdigit() else 0.0)
    except (ValueError, OverflowError):
        return None


def clock(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass(frozen=True)
class Reading:
    elapsed_s: float
    spent: float | None  # money so far (None without a price)
    remaining_s: float | None  # to the end of training, from its progress
    total_cost: float | None  # spent + what the remaining time costs
    price_per_hour: float | None

    def line(self) -> str:
        """One line for a terminal or the TUI: ``0:12:30 · $0.16 · ~1:05:00 left, ~$1.02 in all``."""
        parts = [clock(self.elapsed_s)]
        if self.spent is not None:
            parts.append(f"${self.spent:.2f}")
        if self.remaining_s is not None:
            left = f"~{clock(self.remaining_s)} left"
            if self.total_cost is not None:
                left += f", ~${self.total_cost:.2f} in all"
            parts.append(left)
        if self.price_per_hour is not None:
            parts.append(f"at ${self.price_per_hour:g}/h")
        return " · ".join(parts)

    def to_json(self) -> dict[str, float | None]:
        return {
            "elapsed_s": round(self.elapsed_s, 1),
            "spent": None if self.spent is None else round(self.spent, 4),
            "remaining_s": None if self.remaining_s is None else round(self.remaining_s, 1),
            "total_cost": None if self.total_cost is None else round(self.total_cost, 4),
            "price_per_hour": self.price_per_hour,
        }


def cost(seconds: float, price_per_hour: float | None) -> float | None:
    return None if price_per_hour is None else seconds / 3600.0 * price_per_hour


def remaining_from(progress: object | None) -> float | None:
    """Seconds to the end of the training bar: tqdm's own estimate, else the steps to go
    at its rate (a :class:`wantui.core.progress.Progress`)."""
    if progress is None:
        return None
    eta = getattr(progress, "eta_s", None)
    if eta is not None:
        return float(eta)
    step, total = getattr(progress, "step", None), getattr(progress, "total", None)
    rate = getattr(progress, "rate_its", None)
    if step is not None and total and rate and total >= step:
        return (total - step) / rate
    return None


def read_meter(
    elapsed_s: float, price_per_hour: float | None, remaining_s: float | None = None
) -> Reading:
    """The meter now: ``elapsed_s`` of wall time since the run started, and the time
    left when the training bar says it."""
    spent = cost(elapsed_s, price_per_hour)
    total_cost = None
    if spent is not None and remaining_s is not None:
        total_cost = spent + (cost(remaining_s, price_per_hour) or 0.0)
    return Reading(elapsed_s, spent, remaining_s, total_cost, price_per_hour)


def meter_for_record(
    record: object,
    price_per_hour: float | None,
    progress: object | None = None,
    now: float | None = None,
) -> Reading | None:
    """The meter of a run record (run.json): from its start to its end, or to now."""
    started = parse_iso(getattr(record, "started", None) or getattr(record, "created", None))
    if started is None:
        return None
    ended = parse_iso(getattr(record, "ended", None))
    end = ended if ended is not None else (time.time() if now is None else now)
    remaining = None if ended is not None else remaining_from(progress)
    return read_meter(max(0.0, end - started), price_per_hour, remaining)
