"""Progress of the selected step: bar with step/total, it/s and ETA, the loss sparkline,
GPU use and the checkpoints saved so far."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Sparkline, Static

from wantui.tui.safe import SafeStatic


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def progress_text(p: Any) -> str:
    """One line: ``120/2000  1.92 it/s  ETA 16:19  loss 0.0841``."""
    if p is None:
        return "no progress yet"
    step, total = getattr(p, "step", None), getattr(p, "total", None)
    out = f"{step}/{total}" if total else f"{step} it"
    rate = getattr(p, "rate_its", None)
    if rate:
        out += f"  {rate:.2f} it/s" if rate >= 1 else f"  {1 / rate:.1f} s/it"
    if total:
        out += f"  ETA {_eta(getattr(p, 'eta_s', None))}"
    loss = getattr(p, "avr_loss", None)
    if loss is not None:
        out += f"  loss {loss:.4g}"
    return out


class StatsPanel(Vertical):
    """Bar, figures, sparkline, GPU and checkpoint lines."""

    def compose(self) -> ComposeResult:
        yield SafeStatic("no progress yet", id="progress-text")
        yield ProgressBar(total=None, show_eta=False, show_percentage=True, id="progress-bar")
        yield Sparkline([], id="loss")
        yield SafeStatic("GPU: -", id="gpu")
        yield SafeStatic("checkpoints: none yet", id="checkpoints")

    def show_progress(self, p: Any) -> None:
        self.query_one("#progress-text", Static).update(progress_text(p))
        bar = self.query_one("#progress-bar", ProgressBar)
        total = getattr(p, "total", None) if p is not None else None
        if total:
            bar.update(total=total, progress=getattr(p, "step", 0) or 0)
        else:
            bar.update(total=None)

    def show_losses(self, losses: list[float]) -> None:
        # NaN would break the scale; precursor findings report it instead
        clean = [x for x in losses[-200:] if x == x]
        self.query_one("#loss", Sparkline).data = clean

    def show_gpu(self, text: str) -> None:
        self.query_one("#gpu", Static).update(Text(text))

    def show_checkpoints(self, names: list[str]) -> None:
        if names:
            tail = ", ".join(n.rsplit("/", 1)[-1] for n in names[-2:])
            text = f"checkpoints ({len(names)}): {tail}"
        else:
            text = "checkpoints: none yet"
        self.query_one("#checkpoints", Static).update(Text(text))  # file names: no markup
