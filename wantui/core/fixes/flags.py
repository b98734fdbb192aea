"""Edits of one step's argv (a list of strings, never a shell line).

A flag's values are the tokens after it up to the next option (``--x``, or ``-x`` that is
not a negative number); ``--flag=value`` is understood too. This matches how argparse
reads musubi-tuner's options, including ``nargs="*"`` ones such as ``--network_args``.
"""

from __future__ import annotations

import re
from typing import Any

from wantui.core.fixes.toml_edit import FixRefused

_NUMBER = re.compile(r"^-\d+(\.\d*)?([eE][-+]?\d+)?$|^-\.\d+$")
_FLAG = re.compile(r"^--?[A-Za-z][A-Za-z0-9_.-]*$")


def is_option(token: str) -> bool:
    return token.startswith("-") and not _NUMBER.match(token) and token != "-"


def check_flag(flag: Any, what: str = "flag") -> str:
    if not isinstance(flag, str) or not _FLAG.match(flag):
        raise FixRefused(f"bad {what} {flag!r}: an option looks like --name")
    return flag


def values_of(value: Any) -> list[str]:
    """A fix's ``value`` parameter as argv tokens (None -> no value, list -> several)."""
    if value is None:
        return []
    if isinstance(value, bool):
        raise FixRefused("a flag value cannot be true/false; use flag_add or flag_remove")
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def find_flag(args: list[str], flag: str) -> tuple[int, int] | None:
    """(start, end) slice of the first occurrence of ``flag`` and its values, or None."""
    for i, tok in enumerate(args):
        if tok == flag:
            j = i + 1
            while j < len(args) and not is_option(args[j]):
                j += 1
            return i, j
        if tok.startswith(flag + "="):
            return i, i + 1
    return None


def current_values(args: list[str], flag: str) -> list[str] | None:
    span = find_flag(args, flag)
    if span is None:
        return None
    i, j = span
    if args[i].startswith(flag + "="):
        return [args[i].split("=", 1)[1]]
    return args[i + 1 : j]


def remove_flag(args: list[str], flag: str) -> list[str]:
    check_flag(flag)
    out = list(args)
    span = find_flag(out, flag)
    if span is None:
        raise FixRefused(f"{flag} is not in this step's arguments")
    while span is not None:  # a repeated flag: argparse keeps the last; remove all
        del out[span[0] : span[1]]
        span = find_flag(out, flag)
    return out


def add_flag(args: list[str], flag: str, value: Any = None) -> list[str]:
    check_flag(flag)
    if find_flag(args, flag) is not None:
        raise FixRefused(f"{flag} is already given; use flag_set to change its value")
    return [*args, flag, *values_of(value)]


def set_flag(args: list[str], flag: str, value: Any) -> list[str]:
    check_flag(flag)
    vals = values_of(value)
    span = find_flag(args, flag)
    if span is None:
        return [*args, flag, *vals]
    if current_values(args, flag) == vals:
        raise FixRefused(f"{flag} already has this value")
    out = list(args)
    out[span[0] : span[1]] = [flag, *vals]
    # drop later repeats so the new value is the one argparse sees
    rest = out[span[0] + 1 + len(vals) :]
    while find_flag(rest, flag) is not None:
        s = find_flag(rest, flag)
        assert s is not None
        del rest[s[0] : s[1]]
    return out[: span[0] + 1 + len(vals)] + rest


def replace_flag(args: list[str], flag: str, new_flag: str, value: Any = None) -> list[str]:
    check_flag(flag)
    check_flag(new_flag, "new flag")
    span = find_flag(args, flag)
    if span is None:
        raise FixRefused(f"{flag} is not in this step's arguments")
    if flag != new_flag and find_flag(args, new_flag) is not None:
        raise FixRefused(f"{new_flag} is already given; remove {flag} instead")
    vals = values_of(value) if value is not None else current_values(args, flag) or []
    out = list(args)
    out[span[0] : span[1]] = [new_flag, *vals]
    return out
