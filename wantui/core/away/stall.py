"""A watchdog for work that reports progress (a download): no new progress for a while
is a stall, reported once through a callback from the watchdog's own thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class StallWatch:
    def __init__(
        self, seconds: float, on_stall: Callable[[float], None], poll: float = 0.5
    ) -> None:
        self.seconds = seconds
        self.on_stall = on_stall
        self.poll = poll
        self.last_amount: object = None
        self.last_change = time.monotonic()
        self.fired = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-watch", daemon=True)
        if seconds > 0:
            self._thread.start()

    def progress(self, amount: object) -> None:
        if amount != self.last_amount:
            self.last_amount = amount
            self.last_change = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            idle = time.monotonic() - self.last_change
            if not self.fired and idle > self.seconds:
                self.fired = True
                try:
                    self.on_stall(idle)
                except Exception:  # noqa: BLE001, S110 - a watchdog never breaks the work
                    pass
