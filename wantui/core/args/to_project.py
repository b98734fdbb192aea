"""A parsed musubi-tuner command as a step of a :class:`Project`: what ``wantui import``
writes into wantui.toml, and what ``wantui check -- COMMAND`` checks in memory, so that a
pasted command goes through the same checks as a project.

Paths relative to the folder the command ran in (``cd X &&``) are rewritten relative to
the project folder, where wantui runs every step; ``--dataset_config`` moves to
``[project]``; ``python -m musubi_tuner.X`` becomes the checkout's ``X.py``.
"""

from __future__ import annotations

import ntpath
import os
import re
from pathlib import Path

from wantui.core.args.catalog import STEP_SCRIPTS
from wantui.core.args.options import map_values, step_view, without
from wantui.core.args.parse import POSIX_VAR, WINDOWS_VAR, ParsedCommand
from wantui.core.fixactions import env_name_problem
from wantui.core.project import Project, Step


def _remove_flag(step: str, args: list[str], flag: str) -> list[str]:
    return without(args, step_view(step, args), flag)


# flags whose value is a path relative to where the command ran
_PATH_VALUED = (
    "--dit",
    "--dit_high_noise",
    "--vae",
    "--t5",
    "--clip",
    "--network_weights",
    "--sample_prompts",
    "--output_dir",
    "--logging_dir",
    "--config_file",
    "--resume",
    "--dataset_config",  # when kept (the project uses another one)
)


def _rebase_paths(step: str, args: list[str], run_dir: Path, root: Path) -> list[str]:
    """Relative path values rewritten from the folder the command ran in (``cd X &&``) to
    the project folder, which is where wantui runs every step."""
    return map_values(
        args, step_view(step, args), _PATH_VALUED, lambda v: _rebase(v, run_dir, root)
    )


def _rebase(value: str, run_dir: Path, root: Path) -> str:
    """Only where the meaning is certain: the file exists from ``run_dir`` and not from
    ``root``, or the value climbs out with ``../`` (a name like ``vae.safetensors`` that
    exists nowhere yet is kept as written; `wantui check` reports it)."""
    if not value or os.path.isabs(value) or value.startswith("~"):
        return value
    here, there = run_dir / value, root / value
    if value.startswith(("../", "./")) or (here.exists() and not there.exists()):
        return _relative(here, root)
    return value


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to the project folder when that stays readable (at most two
    levels up, same drive), else absolute."""
    path = Path(os.path.normpath(path))
    try:
        rel = os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return str(path)
    return rel if not rel.startswith(os.path.join(os.pardir, os.pardir, os.pardir)) else str(path)


def _venv_python(prefix: list[list[str]], cwd: Path, windows: bool) -> str | None:
    """``source .venv/bin/activate`` / ``call .venv\\Scripts\\activate.bat`` -> that venv's python."""
    for seg in prefix:
        for tok in seg:
            m = re.match(r"^(.*)[\\/](?:bin|Scripts)[\\/]activate(?:\.bat|\.ps1)?$", tok, re.I)
            if m:
                venv = m.group(1)
                if windows:
                    return venv.rstrip("\\/") + "\\Scripts\\python.exe"
                base = Path(venv) if os.path.isabs(venv) else cwd / venv
                return str(base / "bin" / "python")
    return None


_WIN_ABS = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


def _windows_cd(parsed: ParsedCommand) -> str | None:
    """The ``cd /d C:\\...`` folder of a pasted .bat when this machine is not Windows:
    ``Path.resolve`` would glue it onto the current folder ("/home/me/C:\\Users...")."""
    if os.name == "nt" or not parsed.windows or parsed.cwd is None:
        return None
    folder = str(parsed.cwd)
    return folder if _WIN_ABS.match(folder) else None


def _win_join(folder: str, value: str) -> str:
    """``value`` from the .bat made absolute in Windows terms (as the .bat meant it)."""
    if not value or _WIN_ABS.match(value) or value.startswith(("/", "%", "~")):
        return value
    return ntpath.normpath(ntpath.join(folder, value))


def _import_windows_cd(
    project: Project, parsed: ParsedCommand, step_name: str, win_dir: str, notes: list[str]
) -> None:
    """A .bat that does ``cd /d C:\\...`` first, imported on Linux or macOS: every
    relative path (dataset config, script, interpreter, model files) is made absolute
    from that folder with Windows rules, for ``wantui export --bat`` and for reading."""
    step_args = list(parsed.args)
    step_args = map_values(  # path-valued flags, also in --flag=value form
        step_args, step_view(step_name, step_args), _PATH_VALUED, lambda v: _win_join(win_dir, v)
    )
    if parsed.dataset_config:
        dc = _win_join(win_dir, parsed.dataset_config)
        if project.dataset_config in (None, dc):
            project.dataset_config = dc
            step_args = _remove_flag(step_name, step_args, "--dataset_config")
    script = STEP_SCRIPTS.get(step_name, parsed.script_name) if parsed.module else parsed.script
    script = _win_join(win_dir, script)
    python = parsed.python
    if python and ("/" in python or "\\" in python):
        project.python = _win_join(win_dir, python)
    elif project.python is None:
        venv_py = _venv_python(parsed.prefix, Path("."), True)
        if venv_py:
            project.python = _win_join(win_dir, venv_py)
    note = (
        f"paths relative to {win_dir} (the .bat's `cd`) were made absolute; they are"
        " Windows paths: run the pipeline on Windows (`wantui export --bat`)"
    )
    if note not in notes:
        notes.append(note)
    _put_step(project, parsed, step_name, script, step_args, notes)


def _put_step(
    project: Project,
    parsed: ParsedCommand,
    step_name: str,
    script: str,
    step_args: list[str],
    notes: list[str],
) -> None:
    """Store the step, keeping the environment and the enabled flag of the step it replaces."""
    old = project.steps.get(step_name)
    project.steps[step_name] = Step(
        name=step_name,
        script=script,
        args=step_args,
        launcher=parsed.launcher,
        launch_args=list(parsed.launch_args),
        env={**(old.env if old else {}), **safe_env(parsed.env, notes)},
        enabled=old.enabled if old else True,
    )


def add_command(
    project: Project, parsed: ParsedCommand, step_name: str, root: Path, cwd: Path, notes: list[str]
) -> None:
    """Put one parsed command into ``project.steps[step_name]``."""
    win_dir = _windows_cd(parsed)
    if win_dir is not None:
        _import_windows_cd(project, parsed, step_name, win_dir, notes)
        return
    run_dir = (parsed.cwd or cwd).resolve()
    step_args = list(parsed.args)
    if parsed.dataset_config:
        dc = Path(parsed.dataset_config)
        dc_abs = Path(os.path.normpath(dc if dc.is_absolute() else run_dir / dc))
        if project.dataset_config is None:
            project.dataset_config = _relative(dc_abs, root)
            step_args = _remove_flag(step_name, step_args, "--dataset_config")
        elif Path(os.path.normpath(project.dataset_config_path())) == dc_abs:
            step_args = _remove_flag(step_name, step_args, "--dataset_config")
        else:
            notes.append(
                f"[{step_name}] kept --dataset_config {parsed.dataset_config}: "
                f"the project uses {project.dataset_config}"
            )
    if run_dir != root and not parsed.windows:
        rebased = _rebase_paths(step_name, step_args, run_dir, root)
        if rebased != step_args:
            step_args = rebased
            notes.append(
                f"[{step_name}] paths relative to {run_dir} were rewritten relative to {root},"
                " where wantui runs the step"
            )
        if parsed.dataset_config:
            notes.append(
                f"[{step_name}] the command ran in {run_dir}; wantui runs it from {root}, "
                "so relative folders inside the dataset config now resolve from there"
                " (check with `wantui check`)"
            )
    if parsed.typography and not any("typographic" in n for n in notes):
        notes.append(
            "typographic characters were read as meant (" + "; ".join(parsed.typography) + ")"
        )
    pattern = WINDOWS_VAR if parsed.windows else POSIX_VAR
    unset = sorted({m.group(0) for tok in step_args for m in pattern.finditer(tok)})
    if unset:
        notes.append(
            f"[{step_name}] {', '.join(unset)} not set here, kept as written: wantui runs the"
            " step without a shell, so replace it with the real value in wantui.toml"
        )
    # `python -m musubi_tuner.X` becomes the repo-root wrapper X.py of the checkout
    script = STEP_SCRIPTS.get(step_name, parsed.script_name) if parsed.module else parsed.script
    script_path = Path(script) if parsed.windows else Path(script.replace("\\", "/"))
    if not script_path.is_absolute() and project.musubi_dir is None:
        if (run_dir / script_path).is_file():
            project.musubi_dir = _relative(run_dir, root) if run_dir != root else "."
        elif run_dir != root:
            script = str(run_dir / script_path)
    python = parsed.python
    if python and ("/" in python or "\\" in python):
        py = Path(python)
        if not py.is_absolute() and not parsed.windows:
            python = _relative(run_dir / py, root)  # relative to where the command ran
        project.python = python
    elif project.python is None:
        venv_py = _venv_python(parsed.prefix, run_dir, parsed.windows)
        if venv_py:
            project.python = venv_py
    if parsed.windows and project.python is None and python:
        notes.append(
            f"interpreter `{python}` left unset: wantui uses its own unless [project] python is set"
        )
    _put_step(project, parsed, step_name, script, step_args, notes)


def project_from_commands(commands: list[ParsedCommand], root: Path) -> tuple[Project, list[str]]:
    """An in-memory project (folder ``root``) holding the Wan steps of ``commands``, as
    ``wantui import`` would write them; commands of no known Wan step are left out (the
    argument checks report them)."""
    project = Project(root=root, name=root.name or "wan-lora")
    notes: list[str] = []
    for parsed in commands:
        if parsed.step is None or parsed.other_arch:
            continue
        add_command(project, parsed, parsed.step, root, root, notes)
    return project, notes


def safe_env(env: dict[str, str], notes: list[str]) -> dict[str, str]:
    """``env`` without the variables wantui never sets (``LD_PRELOAD``, ``PYTHONPATH``...:
    wantui.toml would refuse to load); each one dropped is a note."""
    out: dict[str, str] = {}
    for name, value in env.items():
        if env_name_problem(name) is None:
            out[name] = value
            continue
        note = f"{name} was not imported: wantui never sets it; set it in your shell instead"
        if note not in notes:
            notes.append(note)
    return out
