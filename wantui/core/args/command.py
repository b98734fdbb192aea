"""Whole-command and whole-project checks: script, arguments, dataset TOML, model files and
cross-checks between the three steps."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from wantui.core.args.check import check_step_args, foreign_windows_path, script_findings
from wantui.core.args.options import ArgView, project_view, step_view
from wantui.core.args.parse import ParsedCommand, basename_any, parse_commands
from wantui.core.dataset.check import bom_finding, check_config, parse_error_findings
from wantui.core.dataset.links import link_causes
from wantui.core.dataset.load import parse_config_text, read_config_text, starts_with_bom
from wantui.core.dataset.positions import scan_positions
from wantui.core.dataset.scan import scan_findings
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding, Location, Severity, sort_findings
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction
from wantui.core.project import Project, Step

I2V_TASKS = ("i2v-14B", "i2v-A14B", "flf2v-14B", "i2v-14B-FC")


def _resolve(cwd: Path, p: str) -> Path:
    path = Path(os.path.expanduser(p))
    return path if path.is_absolute() else cwd / path


def _link_problem(path: Path) -> str:
    """Why a symlink does not resolve: a loop, or a missing target."""
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 on a loop
        return "it loops"
    except OSError as exc:
        return "it loops" if exc.errno == 40 else f"`{os.readlink(path)}` is missing"
    return "unknown"


def dataset_findings(path: Path, cwd: Path, *, shown: str | None = None, scan_step: str | None = None,
                     scan: bool = True) -> list[Finding]:  # fmt: skip
    """Check and scan a dataset config named by a command or a project."""
    if not path.exists():
        return [
            emit(
                "dataset-config-not-found",
                origin="check",
                location=Location(str(path)),
                captures={"path": str(path)},
                text={
                    "shown": shown or path,
                    "cwd": cwd,
                    "link": f", a symlink that leads nowhere: {_link_problem(path)}"
                    if path.is_symlink()
                    else None,
                },
                steps=(),
            )
        ]
    if path.suffix.lower() not in (".toml", ".json"):
        bad_ext = emit(
            "dataset-config-format", origin="check", location=Location(str(path)), steps=()
        )
    else:
        bad_ext = None
    try:
        text = read_config_text(path)
    except WantuiError as err:
        return [
            emit(
                "dataset-config-unreadable",
                origin="check",
                location=Location(str(path), err.line, err.column),
                text={"error": err.message},
                steps=(),
            )
        ]
    if starts_with_bom(path):
        bad_ext = bad_ext or bom_finding(path)
    try:
        cfg = parse_config_text(text, path)
    except WantuiError as err:
        return ([bad_ext] if bad_ext else []) + parse_error_findings(err, path, text)
    out = ([bad_ext] if bad_ext else []) + check_config(cfg, cwd)
    if scan:
        out += scan_findings(cfg, cwd, scan_step)
    return link_causes(out)


def typography_finding(changes: list[str]) -> Finding:
    """Smart punctuation from a web page or a document (the checks ran on the ASCII)."""
    return emit(
        "command-typography", origin="check", text={"changes": "; ".join(changes)}, steps=()
    )


def check_parsed(
    parsed: ParsedCommand, *, cwd: Path | None = None, dataset: bool = True
) -> list[Finding]:
    """Every check of one parsed command."""
    base = Path(cwd) if cwd is not None else (parsed.cwd or Path.cwd())
    findings = script_findings(parsed, base)
    if parsed.typography:
        findings.append(typography_finding(parsed.typography))
    if parsed.step is None or parsed.other_arch:
        return sort_findings(findings)
    _, arg_findings = check_step_args(
        parsed.step, parsed.args, cwd=base, launch_args=parsed.launch_args, windows=parsed.windows
    )
    findings += arg_findings
    if dataset and parsed.dataset_config and foreign_windows_path(parsed.dataset_config):
        findings.append(
            emit(
                "dataset-config-windows-path",
                origin="check",
                text={
                    "config": parsed.dataset_config,
                    "why": "cannot be read from this machine; run `wantui check` on the Windows "
                    "machine to check it.",
                },
                severity=Severity.INFO,
                priority=5,
                steps=(),
            )
        )
    elif dataset and parsed.dataset_config:
        findings += dataset_findings(
            _resolve(base, parsed.dataset_config),
            base,
            shown=parsed.dataset_config,
            scan_step=parsed.step,
        )
    return sort_findings(findings)


def check_command(
    argv: list[str] | str, cwd: str | os.PathLike[str] | None = None
) -> list[Finding]:
    """Check a command line exactly as a user would type or paste it (arguments, script,
    dataset; the model files are checked by :func:`wantui.core.preflight.check_pasted`)."""
    return check_commands(parse_commands(argv, cwd))


def check_commands(commands: list[ParsedCommand]) -> list[Finding]:
    """The argument, script and dataset checks of parsed commands. A pasted script with
    several commands is checked command by command, each dataset config once."""
    if len(commands) == 1:
        return check_parsed(commands[0])
    steps = {c.step for c in commands if not c.other_arch}
    scan_step = "train" if "train" in steps and "latents" not in steps else None
    findings: list[Finding] = []
    seen: set[Path] = set()
    for c in commands:
        base = c.cwd or Path.cwd()
        for f in check_parsed(c, dataset=False):
            f.title = f"[{c.step or c.script_name}] {f.title}"
            findings.append(f)
        dc = c.dataset_config
        if dc and c.step and not c.other_arch and not foreign_windows_path(dc):
            path = _resolve(base, dc)
            if path not in seen:
                seen.add(path)
                findings += dataset_findings(path, base, shown=dc, scan_step=scan_step)
    return sort_findings(findings)


def _step_location(project: Project, name: str) -> Location | None:
    if not project.file.exists():
        return None  # a pasted command checked in memory: no file to point at
    try:
        text = project.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return Location(str(project.file))
    pos = scan_positions(text)
    p = pos.key(f"steps.{name}", "args") or pos.table(f"steps.{name}")
    return Location(str(project.file), p.line if p else None, p.column if p else None)


def check_project(project: Project, *, steps: list[str] | None = None) -> list[Finding]:
    """Dataset TOML, the three steps' arguments and scripts, and the cross-checks between them.

    ``steps`` are the steps about to run (default: the enabled ones); cache files are
    counted only when training runs without the caching steps before it.
    """
    cwd = project.cwd()
    enabled = [n for n, s in project.steps.items() if s.enabled]
    running = steps if steps is not None else enabled
    findings: list[Finding] = []
    ds_path = project.dataset_config_path()
    if ds_path is None:
        findings.append(
            emit(
                "dataset-config-unset",
                origin="check",
                location=Location(str(project.file)),
                steps=(),
            )
        )
    elif project.dataset_config and foreign_windows_path(project.dataset_config):
        # an imported .bat: joining C:\... onto this folder gave a nonsense "not found" path
        findings.append(
            emit(
                "dataset-config-windows-path",
                origin="check",
                location=Location(str(project.file)),
                text={
                    "config": project.dataset_config,
                    "why": "is a Windows path, which this machine cannot open. Copy the TOML here "
                    "and set `dataset_config` in [project] to its path (forward slashes), or "
                    "run wantui on the Windows machine.",
                },
                steps=(),
            )
        )
    else:
        only_train = "train" in running and "latents" not in running
        findings += dataset_findings(ds_path, cwd, scan_step="train" if only_train else None)
    states = {}
    for name, step in project.steps.items():
        if not step.enabled:
            continue
        loc = _step_location(project, name)
        findings += _script_checks(project, step, loc)
        args = list(step.args)
        if project.dataset_config and not step_view(name, args).has("--dataset_config"):
            args = ["--dataset_config", str(ds_path), *args]
        state, found = check_step_args(
            name,
            args,
            cwd=cwd,
            launch_args=step.launch_args if step.launcher == "accelerate" else None,
            location=loc,
            windows=os.name == "nt",
        )
        findings += found
        states[name] = state
        if step.launcher != "accelerate" and step.launch_args:
            findings.append(
                emit(
                    "launch-args-unused",
                    origin="check",
                    location=loc,
                    text={"step": name},
                    steps=(),
                )
            )
    findings += cross_checks(project, states)
    return sort_findings(findings)


def _script_checks(project: Project, step: Step, loc: Location) -> list[Finding]:
    parsed = ParsedCommand(
        argv=[],
        step=None,
        launcher=step.launcher,
        script=str(project.script_path(step)),
        script_name=basename_any(step.script),
        args=[],
    )
    from wantui.core.args.catalog import OTHER_ARCH_SCRIPTS, SCRIPT_STEPS

    parsed.step = SCRIPT_STEPS.get(parsed.script_name) or OTHER_ARCH_SCRIPTS.get(parsed.script_name)
    parsed.other_arch = parsed.script_name in OTHER_ARCH_SCRIPTS
    out = script_findings(parsed, project.root, location=loc)
    if parsed.step is not None and not parsed.other_arch and parsed.step != step.name:
        out.append(
            emit(
                "step-script-mismatch",
                origin="check",
                location=loc,
                text={"step": step.name, "script": parsed.script_name, "script_step": parsed.step},
                steps=(),
            )
        )
    return out


def cross_checks(project: Project, states: Mapping[str, ArgView] | None = None) -> list[Finding]:
    """Between the steps: I2V training needs I2V latents, one dataset config for all.
    ``states``: the steps' arguments as read (default: the model's view of each step)."""
    if states is None:
        states = {n: project_view(project, n) for n, s in project.steps.items() if s.enabled}
    out: list[Finding] = []
    train, latents = states.get("train"), states.get("latents")
    if train is not None and latents is not None:
        task = train.get("--task") or "t2v-14B"
        if task in I2V_TASKS and not (latents.has("--i2v") or latents.has("--clip")):
            out.append(
                emit(
                    "i2v-latents-without-i2v",
                    origin="check",
                    location=_step_location(project, "latents"),
                    text={"task": task},
                    fixes=[
                        FixAction(
                            "flag_add",
                            {"step": "latents", "flag": "--i2v"},
                            label="Add --i2v to latent caching",
                        )
                    ],
                )
            )
        if task in ("i2v-14B", "flf2v-14B") and not latents.has("--clip"):
            out.append(
                emit(
                    "i2v-latents-without-clip",
                    origin="check",
                    location=_step_location(project, "latents"),
                    text={"task": task},
                )
            )
        if task not in I2V_TASKS and latents.has("--i2v") and "FC" not in task:
            out.append(
                emit(
                    "t2v-latents-with-i2v",
                    origin="check",
                    location=_step_location(project, "latents"),
                    text={"task": task},
                    steps=(),
                )
            )
    for name, state in states.items():
        own = state.get("--dataset_config")
        given = step_view(name, project.steps[name].args).has("--dataset_config")
        if own and project.dataset_config and given:
            if _resolve(project.root, own) != project.dataset_config_path():
                out.append(
                    emit(
                        "dataset-config-differs",
                        origin="check",
                        location=_step_location(project, name),
                        text={"step": name, "own": own, "project_config": project.dataset_config},
                        steps=(),
                    )
                )
    return out
