"""A one-line "what is happening" on stderr while something slow runs (the probe: 3-10 s
of a blank terminal otherwise). Only on a terminal: a log file or a pipe gets nothing,
and the line is wiped when the work ends, so the output after it is as before."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

from wantui.core.textsafe import printable


class ProgressLine:
    def __init__(self, text: str, *, stream: TextIO | None = None, interval: float = 0.25) -> None:
        self.text = printable(text)  # it names the interpreter from wantui.toml
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._width = 0
        self._lock = threading.Lock()

    def _on_terminal(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):  # a closed or odd stream
            return False

    def _draw(self, t0: float) -> None:
        line = f"{self.text} {time.monotonic() - t0:.0f} s"
        with self._lock:
            self.stream.write("\r" + line.ljust(self._width))
            self.stream.flush()
            self._width = len(line)

    def _run(self) -> None:
        t0 = time.monotonic()
        self._draw(t0)
        while not self._stop.wait(self.interval):
            self._draw(t0)

    def __enter__(self) -> ProgressLine:
        if self._on_terminal():
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=2)
        with self._lock:  # spaces, not an escape code: any terminal (TERM=dumb too)
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
