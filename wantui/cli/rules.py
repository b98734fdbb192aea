"""``wantui rules list|check|explain|trust|untrust``: the rule base from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from wantui.cli.render import report_rule_load, write_json
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.rules import load_rules
from wantui.core.rules.check import check_rules
from wantui.core.rules.registry import entries, explain, markdown_table
from wantui.core.textsafe import printable


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
    p.add_argument("--json", action="store_true", help="print one JSON object (docs/json.md)")
    p.add_argument("--markdown", action="store_true", help="print the README table")
    _common(p, sub=True)
    p = sub.add_parser("check", help="load every rule and run every example log")
    _common(p, sub=True)
    p = sub.add_parser("explain", help="show what one rule matches and says")
    p.add_argument("rule_id", metavar="ID")
    _common(p, sub=True)
    p = sub.add_parser(
        "trust",
        help="load the rules of DIR/.wantui/rules (as they are now) when wantui runs there,"
        " and let doctor and plan probe its [project] python",
    )
    p.add_argument(
        "dir",
        metavar="DIR",
        nargs="?",
        default=".",
        help="the project folder (default: the current folder)",
    )
    _common(p, sub=True)
    p = sub.add_parser("untrust", help="stop loading the rules of DIR/.wantui/rules")
    p.add_argument(
        "dir",
        metavar="DIR",
        nargs="?",
        default=".",
        help="the project folder (default: the current folder)",
    )
    _common(p, sub=True)


def _project_python(folder: Path) -> str | None:
    """The folder's ``[project] python`` (resolved), or None (no such setting, or no
    readable wantui.toml: nothing of it is trusted then)."""
    from wantui.core.project import PROJECT_FILE, load_project

    if not (folder / PROJECT_FILE).is_file():
        return None
    try:
        project = load_project(folder)
    except WantuiError:
        return None
    return project.python_path() if project.python else None


def _trust(args: argparse.Namespace) -> int:
    """Show what the folder's rules are, then record them as trusted."""
    from wantui.core.rules import load_rules_dir, trust

    folder = Path(args.dir)
    if args.rules_command == "untrust":
        real = printable(str(folder.resolve()))
        if trust.untrust(folder):
            print(f"No longer trusted: {real} (its .wantui/rules will not load)")
        else:
            print(f"{real} was not trusted")
        return ExitCode.OK
    if not folder.is_dir():
        raise WantuiError("not a folder", path=folder)
    rules_dir = folder / trust.RULES_SUBDIR
    python = _project_python(folder)
    if not trust.rule_files(rules_dir):
        if python is None:
            raise WantuiError(
                "nothing to trust: no rule files (*.yaml) and no [project] python", path=rules_dir
            )
        print(printable(f"  interpreter: {python} (doctor and plan start it to probe)"))
        trust.trust(folder, python)
        print(
            printable(
                f"Trusted {folder.resolve()}: wantui doctor and plan may start its [project]"
                f" python, until it changes. Recorded in {trust.trust_file()}."
            )
        )
        return ExitCode.OK
    found, errs = load_rules_dir(rules_dir, builtin=False)
    builtin = {r.id for r in load_rules(include_user=False).rules}
    for r in sorted(found, key=lambda r: r.id):
        replaces = "  (replaces the built-in rule)" if r.id in builtin else ""
        fixes = ", ".join(f.action for f in r.fixes)
        print(printable(f"  {r.id}{replaces}: {r.title}" + (f" [fixes: {fixes}]" if fixes else "")))
    for e in errs:
        print(printable(f"  broken, will be skipped: {e}"))
    if python is not None:
        print(printable(f"  interpreter: {python} (doctor and plan start it to probe)"))
    st = trust.trust(folder, python)
    print(
        printable(
            f"Trusted {st.files} rule file(s) in {st.rules}: they load when wantui runs in"
            f" {st.folder}, until they change. Recorded in {trust.trust_file()}."
        )
    )
    return ExitCode.OK


def run(args: argparse.Namespace) -> int:
    if args.rules_command in ("trust", "untrust"):
        return _trust(args)
    rules = load_rules(
        args.rules, include_user=not args.no_user_rules, include_builtin=not args.no_builtin_rules
    )
    report_rule_load(rules)
    # the checks' declarations ship with the built-in rules
    ordered = entries(rules, checks=not args.no_builtin_rules)
    if args.rules_command == "list":
        if args.json:
            rows = [
                {
                    "id": e.id,
                    "catalog": e.catalog,
                    "severity": e.severity.value,
                    "steps": list(e.steps),
                    "priority": e.priority,
                    "title": e.title,
                    "path": str(e.path) if e.path else None,
                    "builtin": e.builtin,
                    "found_by": e.found_by,
                }
                for e in ordered
            ]
            write_json({"rules": rows})
        elif args.markdown:
            print(markdown_table(ordered))
        else:
            width = max((len(e.id) for e in ordered), default=10)
            for e in ordered:
                print(printable(f"{e.id:<{width}}  {e.severity.value:<7}  {e.title}"))
            logs = sum(1 for e in ordered if e.rule)
            checks = sum(1 for e in ordered if e.check)
            print(f"{len(ordered)} ids: {logs} log rules, {checks} checks")
        return ExitCode.OK
    if args.rules_command == "explain":
        print(printable(explain(args.rule_id, rules), newlines=True))
        return ExitCode.OK
    report = check_rules(rules, coverage=not args.no_builtin_rules)
    for line in report.failures:
        print(printable(f"FAIL {line}"))
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
