"""musubi-tuner's three command lines: argument catalog, parsing and checks."""

from __future__ import annotations

from wantui.core.args.catalog import KNOWN_BAD, SCRIPTS, STEP_SCRIPTS, ArgSpec, Replacement
from wantui.core.args.command import check_command, check_parsed, check_project
from wantui.core.args.parse import ParsedCommand, parse_command

__all__ = [
    "KNOWN_BAD",
    "SCRIPTS",
    "STEP_SCRIPTS",
    "ArgSpec",
    "ParsedCommand",
    "Replacement",
    "check_command",
    "check_parsed",
    "check_project",
    "parse_command",
]
