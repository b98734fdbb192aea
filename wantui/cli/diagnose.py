"""``wantui diagnose LOG... | -``: explain musubi-tuner logs.

Exit codes: 0 no error finding, 1 an error finding, 2 usage, unreadable input or
invalid rules (see ExitCode).
"""

from __future__ import annotations

import argparse
import os
import sys

from wantui.cli.render import render_findings, report_rule_load
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.finding import exit_code_for
from wantui.core.logfiles import diagnose_logs
from wantui.core.rules import load_rules
from wantui.core.textsafe import printable


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logs", nargs="+", metavar="LOG", help="log file(s), or - for stdin")
    parser.add_argument("--json", action="store_true", help="print one JSON object (docs/json.md)")
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a value for rule templates, e.g. dataset_config=data/dataset.toml, step=train",
    )
    parser.add_argument(
        "--exit-status",
        type=int,
        default=None,
        metavar="N",
        help="the step's exit status, if known",
    )
    parser.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="DIR",
        help="an extra rule folder (errors in it are fatal)",
    )
    parser.add_argument(
        "--no-builtin-rules",
        action="store_true",
        help="use only the rules of --rules folders (and user folders)",
    )
    parser.add_argument(
        "--no-user-rules",
        action="store_true",
        help="ignore ~/.config/wantui/rules and ./.wantui/rules",
    )


def parse_context(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise WantuiError(f"--context expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def run(args: argparse.Namespace) -> int:
    context = parse_context(args.context)
    if args.logs.count("-") > 1:
        raise WantuiError("stdin (-) can be given only once")
    rules = load_rules(
        args.rules, include_user=not args.no_user_rules, include_builtin=not args.no_builtin_rules
    )
    report_rule_load(rules)
    if len(args.logs) == 1 and "source" not in context:
        context["source"] = "<stdin>" if args.logs[0] == "-" else args.logs[0]
    session, empty = diagnose_logs(args.logs, rules, context, args.exit_status)
    findings = session.findings()
    for name in empty:
        print(printable(f"wantui: {name}: empty log, nothing to diagnose"), file=sys.stderr)
    source: str | list[str] = args.logs[0] if len(args.logs) == 1 else list(args.logs)
    render_findings(findings, stream=sys.stdout, json_mode=args.json, source=source)
    return ExitCode.FINDINGS if exit_code_for(findings) else ExitCode.OK


if os.name == "nt":  # pragma: no cover - keep stdin binary on Windows
    try:
        import msvcrt

        msvcrt.setmode(sys.stdin.fileno(), os.O_BINARY)
    except (ImportError, OSError, ValueError):
        pass
