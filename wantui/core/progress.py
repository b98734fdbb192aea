"""Progress of a run, read from its log: tqdm bars, ``epoch N/M``, saved checkpoints.

musubi-tuner's training bar is ``steps:  35%|███▌      | 14/40 [00:08<00:16,  1.59it/s,
avr_loss=1.65]``; caching bars have no total (``4it [00:07,  1.88s/it]``); model loading
shows ``Loading X: 100%|...| 825/825 [...]``. :class:`RunStats` consumes normalised Lines
(feed it a ``Normalizer(history=True)`` to see every step, not only each line's last).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from wantui.core.logtext import Line

_BAR = re.compile(
    r"(?:^|\s|\|)(?P<n>\d+(?:\.\d+)?)(?:/(?P<total>\d+(?:\.\d+)?))?(?P<unit>it)?\s*"
    r"\[(?P<elapsed>[\d:]+)(?:<(?P<remaining>[\d:?]+))?,\s*"
    r"(?P<rate>\?|[\d.]+)\s*(?P<rate_unit>it/s|s/it)(?P<postfix>[^\]]*)\]"
)
_DESC = re.compile(r"^(?P<desc>.*?):\s*\d+%\|")  # no leading \s*: quadratic on blanks
_LOSS = re.compile(r"avr_loss=(?P<v>[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf))")
_EPOCH = re.compile(r"^epoch (?P<n>\d+)/(?P<total>\d+)\s*$")
_SAVE = re.compile(r"^saving checkpoint: (?P<path>.*\S)\s*$")  # not .+?\s*$: quadratic


def _seconds(clock: str | None) -> float | None:
    if not clock or "?" in clock:
        return None
    try:
        parts = [int(p) for p in clock.split(":")]
    except ValueError:
        return None
    total = 0
    for p in parts:
        total = total * 60 + p
    return float(total)


@dataclass(frozen=True)
class Progress:
    """One tqdm state. ``rate_its`` is always iterations per second (``s/it`` inverted);
    None for ``?it/s``. ``total`` is None for bars without one."""

    step: int
    total: int | None
    rate_its: float | None
    eta_s: float | None
    avr_loss: float | None
    desc: str
    elapsed_s: float | None = None


def parse_progress(text: str) -> Progress | None:
    """Parse a tqdm line, or return None when ``text`` is not one."""
    m = _BAR.search(text)
    if m is None:
        return None
    # one call for every group: a live run parses each redraw of the bar
    n, total_s, unit, rate_s, rate_unit, postfix, remaining, elapsed = m.group(
        "n", "total", "unit", "rate", "rate_unit", "postfix", "remaining", "elapsed"
    )
    if total_s is None and unit is None:
        return None  # "12 [..." without "it" or a total is not a tqdm bar
    try:
        step = int(float(n))
        total = int(float(total_s)) if total_s else None
        rate: float | None = None
        if rate_s != "?":
            value = float(rate_s)
            if rate_unit == "s/it":
                rate = 1.0 / value if value > 0 else None
            else:
                rate = value
    except ValueError:
        return None
    loss = None
    if postfix and "avr_loss=" in postfix:
        lm = _LOSS.search(postfix)
        if lm:
            loss = float(lm.group("v"))
    dm = _DESC.match(text[: m.start() + 1])
    desc = dm.group("desc").strip() if dm else text[: m.start()].split(":")[0].strip()
    return Progress(
        step=step,
        total=total,
        rate_its=rate,
        eta_s=_seconds(remaining),
        avr_loss=loss,
        desc=desc,
        elapsed_s=_seconds(elapsed),
    )


@dataclass
class RunStats:
    """What a log says about a run's progress; feed it Lines in order."""

    last: Progress | None = None  # the last progress state of any bar
    last_train: Progress | None = None  # the last state of the `steps` bar
    losses: dict[int, float] = field(default_factory=dict)  # step -> avr_loss (last seen)
    # the steps of ``losses`` in the order first seen: what is new since a reader's last
    # look, without copying the whole history each time (a long run holds ~1M)
    loss_steps: list[int] = field(default_factory=list)
    epoch: int | None = None
    epochs: int | None = None
    checkpoints: list[str] = field(default_factory=list)
    max_history: int = 1_000_000  # bound the loss history of very long runs

    def feed(self, line: Line) -> None:
        text = line.text
        if line.progress or "it/s" in text or "s/it" in text:
            p = parse_progress(text)
            if p is not None:
                self.last = p
                if p.desc == "steps":
                    self.last_train = p
                    if p.avr_loss is not None:
                        if p.step in self.losses:
                            self.losses[p.step] = p.avr_loss
                        elif len(self.losses) < self.max_history:
                            self.losses[p.step] = p.avr_loss
                            self.loss_steps.append(p.step)
                return
        if text.startswith("epoch "):
            m = _EPOCH.match(text)
            if m:
                self.epoch, self.epochs = int(m.group("n")), int(m.group("total"))
                return
        if text.startswith("saving checkpoint: "):
            m = _SAVE.match(text)
            if m and m.group("path") not in self.checkpoints:
                self.checkpoints.append(m.group("path"))

    def feed_all(self, lines: Iterable[Line]) -> RunStats:
        for line in lines:
            self.feed(line)
        return self

    @property
    def step(self) -> int | None:
        return self.last_train.step if self.last_train else None

    @property
    def total_steps(self) -> int | None:
        return self.last_train.total if self.last_train else None

    @property
    def loss_is_nan(self) -> bool:
        return any(math.isnan(v) for v in self.losses.values())
