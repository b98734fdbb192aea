"""argparse ``type=`` functions for option values: a bad value is a usage error (exit 2,
one line naming the option) before anything runs, never a frozen screen or a traceback."""

from __future__ import annotations

import argparse
import math
import os
import sys

from wantui.core.errors import WantuiError


def _number(text: str, kind: type) -> float:
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_float(text: str) -> float:
    """Above 0 (a speed factor: 0 would never advance, a negative one has no meaning)."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def non_negative_float(text: str) -> float:
    """0 or more (seconds to wait)."""
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def positive_int(text: str) -> int:
    """1 or more (a count of processes)."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def port(text: str) -> int:
    """A TCP port, 1 to 65535."""
    value = int(_number(text, int))
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, not {text}")
    return value


def require_terminal() -> None:
    """The terminal app draws on a terminal and reads keys from one. Without one (a pipe,
    cron, nohup) it would write escape codes into a file and spin: refuse, in one line.
    A Textual driver chosen by environment (textual-serve's web driver) needs none."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return
    streams = {"stdin": sys.stdin, "stdout": sys.stdout}
    missing = [name for name, s in streams.items() if s is None or not _isatty(s)]
    if missing:
        raise WantuiError(
            f"the terminal app needs a terminal, and {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not one; in scripts use "
            "`wantui run`, `wantui attach` or `wantui diagnose`"
        )


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # closed or replaced streams
        return False


def add_probe_timeout(parser: argparse.ArgumentParser) -> None:
    """``--probe-timeout S`` of the commands that run the environment probe (doctor, plan);
    each checks the range itself."""
    parser.add_argument(
        "--probe-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds the probe may take (default: 10)",
    )
