"""``wantui rules list|check|explain``: the rule base from the command line."""

from __future__ import annotations

import argparse
import json
import sys

from wantui.core.errors import ExitCode
from wantui.core.rules import load_rules
from wantui.core.rules.check import check_rules, explain_rule


def _common(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    # on the sub-commands too, so `wantui rules check --rules DIR` works as well as
    # `wantui rules --rules DIR check`; SUPPRESS keeps the sub-parser from resetting them
    kw = {"default": argparse.SUPPRESS} if sub else {}
    parser.add_argument(
        "--rules",
        action="append",
        metavar="DIR",
        help="an extra rule folder (errors in it are fatal)",
        **({"default": []} if not sub else kw),
    )
    parser.add_argument(
        "--no-builtin-rules",
        action="store_true",
        help="use only the rules of --rules folders (and user folders)",
        **kw,
    )
    parser.add_argument(
        "--no-user-rules", action="store_true", help="ignore the user rule folders", **kw
    )


def register(parser: argparse.ArgumentParser) -> None:
    _common(parser, sub=False)
    sub = parser.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="list the rules")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--markdown", action="store_true", help="print the README table")
    _common(p, sub=True)
    p = sub.add_parser("check", help="load every rule and run every example log")
    _common(p, sub=True)
    p = sub.add_parser("explain", help="show what one rule matches and says")
    p.add_argument("rule_id", metavar="ID")
    _common(p, sub=True)


def run(args: argparse.Namespace) -> int:
    rules = load_rules(
        args.rules, include_user=not args.no_user_rules, include_builtin=not args.no_builtin_rules
    )
    for problem in rules.problems:
        print(f"wantui: warning: {problem} (rule skipped)", file=sys.stderr)
    ordered = sorted(rules.rules, key=lambda r: (r.catalog, r.id))
    if args.rules_command == "list":
        if args.json:
            rows = [
                {
                    "id": r.id,
                    "catalog": r.catalog,
                    "severity": r.severity.value,
                    "steps": list(r.steps),
                    "priority": r.priority,
                    "title": r.title,
                    "path": str(r.path) if r.path else None,
                    "builtin": r.builtin,
                }
                for r in ordered
            ]
            print(json.dumps(rows, indent=2, ensure_ascii=False))
        elif args.markdown:
            print("| id | catalog | severity | steps | title |")
            print("|---|---|---|---|---|")
            for r in ordered:
                title = r.title.replace("|", "\\|")
                print(
                    f"| `{r.id}` | `{r.catalog}` | {r.severity.value} | {', '.join(r.steps)} | {title} |"
                )
        else:
            width = max((len(r.id) for r in ordered), default=10)
            for r in ordered:
                print(f"{r.id:<{width}}  {r.severity.value:<7}  {r.title}")
            print(f"{len(ordered)} rules")
        return ExitCode.OK
    if args.rules_command == "explain":
        print(explain_rule(args.rule_id, rules))
        return ExitCode.OK
    report = check_rules(rules, coverage=not args.no_builtin_rules)
    for line in report.failures:
        print(f"FAIL {line}")
    for line in report.missing_examples:
        print(f"MISSING {line}")
    for line in report.stray_examples:
        print(f"STRAY {line}")
    for cid in report.uncovered:
        print(f"UNCOVERED catalog id {cid} has a log signature but no rule")
    verdict = "ok" if report.ok else "FAILED"
    print(
        f"rules check {verdict}: {report.rules} rules, {report.examples_run} examples run, "
        f"{len(report.failures)} failing, {len(report.missing_examples)} rules without examples, "
        f"{len(report.uncovered)} catalog ids uncovered"
    )
    return ExitCode.OK if report.ok else ExitCode.FINDINGS
