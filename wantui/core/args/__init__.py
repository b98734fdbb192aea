"""musubi-tuner's three command lines: argument catalog, parsing and checks.

The names are loaded on first use (PEP 562): importing one submodule (``options``, the
catalog) must not pull in every check, which costs half a second (`wantui plan`).
"""

from __future__ import annotations

from wantui.core.lazy import lazy_exports

_WHERE = {
    "KNOWN_BAD": "catalog",
    "SCRIPTS": "catalog",
    "STEP_SCRIPTS": "catalog",
    "ArgSpec": "catalog",
    "Replacement": "catalog",
    "check_command": "command",
    "check_parsed": "command",
    "check_project": "command",
    "ParsedCommand": "parse",
    "parse_command": "parse",
}
__all__ = sorted(_WHERE)


__getattr__ = lazy_exports(__name__, _WHERE)
