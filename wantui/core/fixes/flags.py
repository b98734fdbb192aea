"""Edits of one step's argv (a list of strings, never a shell line).

Where a flag is and what it holds is read by the command model
(:mod:`wantui.core.args.options`): with the step's option table, ``--mixed_prec`` is the
occurrence of ``--mixed_precision`` that a fix changes, not a reason to add a second one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wantui.core.args.catalog import ArgSpec
from wantui.core.args.options import Occurrence, read_args
from wantui.core.fixes.toml_edit import FixRefused

_FLAG = re.compile(r"^--?[A-Za-z][A-Za-z0-9_.-]*$")
Opts = Mapping[str, ArgSpec]
_NO_OPTS: Opts = {}


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


def _occurrences(args: list[str], flag: str, opts: Opts | None) -> list[Occurrence]:
    return read_args(args, opts if opts is not None else _NO_OPTS).find(flag)


def _spelled(flag: str, opts: Opts | None) -> str:
    """The option's full name for a flag a fix adds (an abbreviation is written out)."""
    return read_args([], opts if opts is not None else _NO_OPTS).canonical(flag)


def find_flag(args: list[str], flag: str, opts: Opts | None = None) -> tuple[int, int] | None:
    """(start, end) slice of the first occurrence of ``flag`` and its values, or None. With
    the step's option table, an abbreviation or alias of ``flag`` is an occurrence too."""
    occ = _occurrences(args, flag, opts)
    return (occ[0].start, occ[0].end) if occ else None


def current_values(args: list[str], flag: str, opts: Opts | None = None) -> list[str] | None:
    """What argparse stores for ``flag`` (its last occurrence), or None when absent."""
    occ = _occurrences(args, flag, opts)
    return list(occ[-1].values) if occ else None


def remove_flag(args: list[str], flag: str, opts: Opts | None = None) -> list[str]:
    check_flag(flag)
    occ = _occurrences(args, flag, opts)
    if not occ:
        raise FixRefused(f"{flag} is not in this step's arguments")
    # a repeated flag: argparse keeps the last; remove all
    drop = {k for o in occ for k in range(o.start, o.end)}
    return [t for k, t in enumerate(args) if k not in drop]


def add_flag(args: list[str], flag: str, value: Any = None, opts: Opts | None = None) -> list[str]:
    check_flag(flag)
    if find_flag(args, flag, opts) is not None:
        raise FixRefused(f"{flag} is already given; use flag_set to change its value")
    return [*args, _spelled(flag, opts), *values_of(value)]


def set_flag(args: list[str], flag: str, value: Any, opts: Opts | None = None) -> list[str]:
    check_flag(flag)
    vals = values_of(value)
    occ = _occurrences(args, flag, opts)
    if not occ:
        return [*args, _spelled(flag, opts), *vals]
    if len(occ) == 1 and list(occ[0].values) == vals and not occ[0].extra:
        raise FixRefused(f"{flag} already has this value")
    # the first occurrence takes the new value; later repeats go, so it is the one
    # argparse sees
    first, later = occ[0], {k for o in occ[1:] for k in range(o.start, o.end)}
    out: list[str] = []
    for k, tok in enumerate(args):
        if k == first.start:
            out += [flag, *vals]
        elif first.start < k < first.end or k in later:
            continue
        else:
            out.append(tok)
    return out


def replace_flag(
    args: list[str], flag: str, new_flag: str, value: Any = None, opts: Opts | None = None
) -> list[str]:
    check_flag(flag)
    check_flag(new_flag, "new flag")
    occ = _occurrences(args, flag, opts)
    if not occ:
        raise FixRefused(f"{flag} is not in this step's arguments")
    span = (occ[0].start, occ[0].end)
    others = [o for o in _occurrences(args, new_flag, opts) if o.start != span[0]]
    if flag != new_flag and others:
        raise FixRefused(f"{new_flag} is already given; remove {flag} instead")
    vals = values_of(value) if value is not None else list(args[span[0] + 1 : span[1]])
    if value is None and "=" in args[span[0]] and args[span[0]].startswith("--"):
        vals = [args[span[0]].split("=", 1)[1]]
    out = list(args)
    out[span[0] : span[1]] = [new_flag, *vals]
    return out
