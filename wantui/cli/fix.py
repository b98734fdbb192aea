"""``wantui fix``: list the fixes for the findings of a log, a project or a dataset TOML;
apply them (after a preview and a confirmation) or undo the last one.

    wantui fix [--project DIR] [--dataset-config FILE] [--log FILE] [--findings FILE] [--json]
    wantui fix ... --apply ID|all [--yes]
    wantui fix [--project DIR] --undo [--force]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from wantui.cli.render import write_json
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.finding import Finding, exit_code_for
from wantui.core.fixes.flow import FixChoice, FixOutcome, FixSession, unaddressed_errors
from wantui.core.fixes.journal import UndoResult
from wantui.core.fixes.plan import FixPlan
from wantui.core.fsutil import read_regular_file
from wantui.core.project import PROJECT_FILE, Project, load_project
from wantui.core.textsafe import SafeWriter


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--project",
        metavar="DIR",
        help="the project folder (default: the current folder, if it has wantui.toml)",
    )
    p.add_argument(
        "--dataset-config",
        metavar="FILE",
        help="a dataset TOML (alone, or instead of the project's)",
    )
    p.add_argument("--log", metavar="FILE", help="fixes for the findings of this musubi-tuner log")
    p.add_argument(
        "--findings",
        metavar="FILE",
        help="fixes for findings saved as JSON (`wantui check --json` / `diagnose --json` output)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (docs/json.md)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--apply", metavar="ID|all", help="apply one fix by its number, or all of them")
    g.add_argument("--undo", action="store_true", help="revert the last applied fix")
    p.add_argument(
        "--yes", "-y", action="store_true", help="apply without asking (needed without a terminal)"
    )
    p.add_argument(
        "--force", action="store_true", help="with --undo: undo even if the file changed since"
    )
    p.add_argument(
        "--allow-outside",
        action="store_true",
        help="with --yes: edit a dataset config that wantui.toml names outside the project folder",
    )


MAX_FINDINGS_BYTES = 64 * 1024 * 1024  # `check --json` of a huge dataset is a few MB


# -- inputs ------------------------------------------------------------------------------


def _open_project(arg: str | None) -> Project | None:
    if arg is not None:
        from wantui.cli.check import project_arg

        return load_project(project_arg(arg))
    try:
        here = (Path.cwd() / PROJECT_FILE).is_file()
    except OSError:  # a folder we may not look into: no project here
        here = False
    return load_project(Path.cwd()) if here else None


def finding_from_json(obj: dict[str, Any]) -> Finding:
    """A Finding back from its ``to_json`` form (as printed by check/diagnose --json)."""
    try:
        return Finding.from_json(obj)
    except ValueError as exc:
        raise WantuiError(str(exc)) from None


def _load_findings_file(path: str) -> list[Finding]:
    p = Path(path)
    if not p.exists():
        raise WantuiError("cannot read: No such file or directory", path=p)
    raw = read_regular_file(p, limit=MAX_FINDINGS_BYTES, what="findings file")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WantuiError(f"not JSON: {exc}", path=p) from None
    except RecursionError:  # "[[[[...": nested past Python's limit
        raise WantuiError("not a findings file: JSON nested too deeply", path=p) from None
    items = data.get("findings") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise WantuiError('expected a list of findings or {"findings": [...]}', path=p)
    out = []
    for i, obj in enumerate(items):
        if not isinstance(obj, dict):
            raise WantuiError(f"finding #{i + 1} is not an object", path=p)
        try:
            out.append(finding_from_json(obj))
        except WantuiError as exc:
            raise WantuiError(f"finding #{i + 1}: {exc.message}", path=p) from None
    return out


def _missing(what: str, exc: ImportError) -> WantuiError:
    return WantuiError(
        f"{what} is not available in this build ({exc.name})", code=ExitCode.INTERNAL
    )


def _log_findings(log: str, project: Project | None) -> list[Finding]:
    from wantui.cli.render import report_rule_load
    from wantui.core.logfiles import log_findings
    from wantui.core.rules import load_rules

    rules = load_rules()
    report_rule_load(rules)
    return log_findings(Path(log), rules, project)


def _project_findings(project: Project, dataset_config: Path | None) -> list[Finding]:
    """Preflight (dataset + arguments + model files) of the project; with an explicit
    --dataset-config, that TOML's checks instead of the project's dataset."""
    if dataset_config is not None:
        return _dataset_findings(dataset_config, project.cwd())
    try:
        from wantui.core.preflight import preflight
    except ImportError:
        preflight = None  # type: ignore[assignment]
    if preflight is not None:
        return list(preflight(project))
    try:
        from wantui.core.args import check_project
    except ImportError:
        ds = project.dataset_config_path()
        return _dataset_findings(ds, project.cwd()) if ds is not None else []
    return list(check_project(project))


def _dataset_findings(path: Path, cwd: Path) -> list[Finding]:
    try:
        from wantui.core.dataset import check_dataset_config
    except ImportError as exc:
        raise _missing("dataset checks", exc) from None
    return list(check_dataset_config(path, cwd))


def collect_findings(
    args: argparse.Namespace, project: Project | None
) -> tuple[list[Finding], str]:
    ds = Path(args.dataset_config) if args.dataset_config else None
    if args.findings:
        return _load_findings_file(args.findings), args.findings
    if args.log:
        return _log_findings(args.log, project), args.log
    if project is not None:
        return _project_findings(project, ds), str(project.file)
    if ds is not None:
        return _dataset_findings(ds, Path.cwd()), str(ds)
    raise WantuiError(
        "nothing to fix: give --log FILE, --dataset-config FILE or --project DIR (or run in a project folder)"
    )


# -- output ------------------------------------------------------------------------------


def _print_list(
    entries: list[FixChoice], findings: list[Finding], source: str, out: TextIO
) -> None:
    n_fixable = sum(1 for f in findings if f.fixes)
    out.write(f"{len(findings)} finding(s) in {source}, {n_fixable} with fixes.\n")
    if not entries:
        out.write("No fixes to apply.\n")
        return
    for e in entries:
        where = f" ({e.finding.location})" if e.finding.location else ""
        out.write(f"{e.id:>3}  {e.plan.label}\n")
        out.write(f"     for: {e.finding.title or e.finding.rule} [{e.finding.catalog}]{where}\n")
        if e.plan.refused:
            out.write(f"     cannot apply: {e.plan.refused}\n")
    out.write(
        "Preview and apply one with `wantui fix --apply ID` (or `--apply all`); undo with `wantui fix --undo`.\n"
    )


def _confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _progress_printer(stream: TextIO) -> Any:
    def cb(p: Any) -> None:
        end = "\n" if p.phase == "done" else "\r"
        stream.write(f"  {p.describe()}        {end}")
        stream.flush()

    return cb


# -- run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    # labels, titles, paths and the diff of a file are outside text: escapes shown, not run
    out = SafeWriter(sys.stdout)
    if args.force and not args.undo:
        raise WantuiError("--force goes with --undo")
    project = _open_project(args.project)
    ds = Path(args.dataset_config) if args.dataset_config else None
    if ds is not None and not ds.is_file():
        raise WantuiError("no such file" if not ds.exists() else "is not a file", path=ds)
    session = FixSession(project, dataset_config=ds)

    if args.undo:
        if project is None and ds is not None:
            session.dataset_config = ds.resolve()
        _print_undo(session.undo(force=args.force), args.json, out)
        return ExitCode.OK

    findings, source = collect_findings(args, project)
    entries = session.choices(findings)

    if args.apply is None:
        if args.json:
            write_json(
                {
                    "source": source,
                    "findings": len(findings),
                    "fixes": [
                        {
                            "id": e.id,
                            "finding": e.finding.rule,
                            "catalog": e.finding.catalog,
                            **e.plan.to_json(),
                        }
                        for e in entries
                    ],
                }
            )
        else:
            _print_list(entries, findings, source, out)
        return exit_code_for(findings)

    if args.apply == "all":
        chosen = entries
    else:
        try:
            wanted = int(args.apply)
        except ValueError:
            raise WantuiError(f"--apply takes a fix number or 'all', not {args.apply!r}") from None
        chosen = [e for e in entries if e.id == wanted]
        if not chosen:
            raise WantuiError(
                f"no fix #{wanted} (there are {len(entries)}; run `wantui fix` to list them)"
            )
    if not chosen:
        out.write("No fixes to apply.\n")
        left = unaddressed_errors(findings, set())
        if left:
            out.write(_hand_fix_note(left))
        return exit_code_for(findings)  # the same as listing them
    interactive = sys.stdin.isatty() and not args.json
    if not args.yes and not interactive:
        raise WantuiError(
            "not asking without a terminal: add --yes to apply the fix(es) shown by `wantui fix`"
        )

    def show(choice: FixChoice, plan: FixPlan) -> None:
        if not args.json:
            out.write(f"\n[{choice.id}] " + plan.preview())

    def confirm(choice: FixChoice, plan: FixPlan, outside: str) -> bool:
        if outside and not args.json:
            out.write(f"Note: {outside}.\n")
        return _confirm(f"Apply fix {choice.id}? [y/N] ", args.yes)

    results: list[dict[str, Any]] = []
    failed = 0
    for outcome in session.apply_each(
        chosen,
        show=show,
        confirm=confirm,
        unattended=args.yes,
        allow_outside=args.allow_outside,
        progress=_progress_printer(sys.stderr),
    ):
        results.append(outcome.to_json())
        failed += outcome.failed
        if not args.json:
            _print_outcome(outcome, out)
    left: list[Finding] = []
    if args.apply == "all" and not failed:
        # exit as listing again would: errors the fixes did not remove are still there
        if args.log or args.findings:  # a log does not change; count what no fix addressed
            left = unaddressed_errors(findings, session.applied_keys)
        elif session.applied_keys:  # the inputs changed: check them again
            args_now = argparse.Namespace(**{**vars(args), "findings": None, "log": None})
            again, _src = collect_findings(args_now, session.project)
            left = unaddressed_errors(again, set())
        else:
            left = unaddressed_errors(findings, set())
    if args.json:
        write_json({"source": source, "results": results})
    elif left:
        out.write("\n" + _hand_fix_note(left))
    return ExitCode.FINDINGS if failed or left else ExitCode.OK


def _print_undo(result: UndoResult, as_json: bool, out: TextIO) -> None:
    if as_json:
        write_json({"undo": result.to_json()})
        return
    if result.others:
        out.write(f"Undone {len(result.all)} fixes applied together:\n")
    for r in result.all:
        if r.landed:
            out.write(f"Undone: {r.entry.get('label')}\n  restored {r.file} byte for byte\n")
        else:
            out.write(
                f"Undone: {r.entry.get('label')}\n  the fix was interrupted before it"
                f" reached {r.file}; the file already has its old bytes\n"
            )


def _print_outcome(outcome: FixOutcome, out: TextIO) -> None:
    c, applied = outcome.choice, outcome.applied
    if outcome.skipped == "alternative":
        out.write(f"\n[{c.id}] Skipped: {outcome.plan.label} (its finding is fixed above)\n")
    elif outcome.outside is not None:
        out.write(f"Not applied: {outcome.outside}; pass --allow-outside to edit it\n")
    elif outcome.error is not None:
        out.write(f"Not applied: {outcome.error}\n")
    elif applied is not None:
        if applied.file:
            out.write(f"Applied. Backup: {applied.backup}\n")
        for note in applied.notes:  # the parts of one fix in other files
            out.write(f"{note}\n")
        if applied.downloaded:
            out.write(f"Downloaded {applied.downloaded}\n")
        if applied.rerun:
            out.write(
                f"Next: run the {applied.rerun} step again (`wantui run --steps {applied.rerun}` or the TUI).\n"
            )


def _hand_fix_note(left: list[Finding]) -> str:
    titles = "; ".join(f.title or f.rule for f in left[:3])
    more = f" and {len(left) - 3} more" if len(left) > 3 else ""
    return f"{len(left)} error finding(s) left without an applied fix: {titles}{more}.\n"


if __name__ == "__main__":  # pragma: no cover
    from wantui.cli.main import main

    sys.exit(main(["fix", *sys.argv[1:]]))
