#!/usr/bin/env python3
"""Regenerate the finding-id table in README.md (between ``<!-- rules:start -->`` and
``<!-- rules:end -->``) from the built-in rules.

    python scripts/rules_table.py            # rewrite the block in place
    python scripts/rules_table.py --check    # exit 1 if the block is out of date
    python scripts/rules_table.py --print    # print the table only

When README.md has no markers yet, a "Rules" section holding them is appended at the end.
The write is atomic (temp file + rename), so README.md is never left half written.
Exit codes: 0 ok, 1 out of date (--check), 2 unreadable README or invalid rules.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START = "<!-- rules:start -->"
END = "<!-- rules:end -->"


def render_table() -> str:
    """The Markdown table of every finding id: built-in rules and check declarations."""
    sys.path.insert(0, str(REPO))
    # after the path tweak: works from a checkout
    from wantui.core.rules import load_rules
    from wantui.core.rules.registry import entries, markdown_table

    rules = load_rules(include_user=False)
    if rules.problems:
        raise SystemExit("\n".join(f"rules_table: {p}" for p in rules.problems))
    found = entries(rules)
    logs = sum(1 for e in found if e.rule)
    checks = sum(1 for e in found if e.check)
    return "\n".join(
        [
            f"{len(found)} finding ids: {logs} log rules, {checks} found by the checks before a"
            " run. `wantui rules explain ID` shows what each matches and says.",
            "",
            markdown_table(found),
        ]
    )


def splice(readme: str, table: str) -> str:
    """README text with the block between the markers replaced by ``table``."""
    block = f"{START}\n{table}\n{END}"
    start, end = readme.find(START), readme.find(END)
    if start == -1 and end == -1:
        sep = "" if readme.endswith("\n") else "\n"
        return f"{readme}{sep}\n## Rules\n\n{block}\n"
    if start == -1 or end == -1 or end < start:
        raise ValueError(f"README.md has a broken {START} ... {END} block")
    return readme[:start] + block + readme[end + len(END) :]


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", type=Path, default=REPO / "README.md")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="exit 1 if the block is stale")
    group.add_argument("--print", action="store_true", help="print the table only")
    args = ap.parse_args(argv)
    table = render_table()
    if args.print:
        print(table)
        return 0
    try:
        readme = args.readme.read_text(encoding="utf-8")
        new = splice(readme, table)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"rules_table: {args.readme}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if new != readme:
            print(f"rules_table: {args.readme} rule table is out of date", file=sys.stderr)
            return 1
        return 0
    if new != readme:
        _atomic_write(args.readme, new)
        print(f"rules_table: updated {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
