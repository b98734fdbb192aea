"""Read flags out of an argv list the way argparse would (``--f v`` and ``--f=v``)."""

from __future__ import annotations

from collections.abc import Sequence


def flag_value(args: Sequence[str], flag: str) -> str | None:
    """The value of the last ``flag`` in ``args`` (argparse keeps the last), or None."""
    value: str | None = None
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = args[i + 1]
        elif a.startswith(flag + "="):
            value = a[len(flag) + 1 :]
    return value


def has_flag(args: Sequence[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


def int_flag(args: Sequence[str], flag: str, default: int | None = None) -> int | None:
    v = flag_value(args, flag)
    try:
        return int(v) if v is not None else default
    except ValueError:
        return default
