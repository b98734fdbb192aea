"""The pipeline as a runnable script: ``export_sh`` (bash) and ``export_bat`` (cmd.exe).

Both run the enabled steps in order from the project folder (musubi-tuner resolves the
dataset TOML's relative paths from the working directory), with each step's environment,
and stop at the first failing step. Every argument is quoted for its shell, one option
per line.

Nothing from the project can end a quote or start a command. Both: env names are
checked when wantui.toml is loaded (``[A-Za-z_][A-Za-z0-9_]*``), and text written into a
comment has its control characters (CR, LF...) replaced. bash: every word is one
``shlex.quote``-d string (``env 'K=v'``). cmd.exe cannot quote a ``"`` (it toggles
cmd's own quoting, so a later ``&`` would run a command) nor a line break: an argument,
env value or folder holding one is refused (exit 2); ``%`` is doubled (expanded even
inside quotes), ``!`` is literal because the script turns delayed expansion off, and
``& | < > ^ ( )`` and spaces are literal inside the double quotes every such argument
gets. tests/test_export_injection.py checks the .bat with an emulation of cmd's parser.
"""

from __future__ import annotations

import re
import shlex

from wantui.core.args.parse import POSIX_VAR, SECRET_NAME
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.project import STEP_NAMES, Project

_TITLES = {
    "latents": "cache latents",
    "te": "cache text-encoder outputs",
    "train": "train the LoRA",
}
_BAT_SAFE = re.compile(r"^[A-Za-z0-9_./\\:=,+@-]+$")


_WIN_ABS = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# cmd cannot put these inside a quoted argument (see the module docstring)
_BAT_UNQUOTABLE = re.compile(r'["\x00-\x08\x0a-\x1f\x7f]')


def _secret_refs(tok: str) -> list[re.Match[str]]:
    """``$WANDB_API_KEY``-style references that `wantui import` kept instead of the secret:
    the script expands them when it runs, as the runner does."""
    if "$" not in tok:
        return []
    return [m for m in POSIX_VAR.finditer(tok) if SECRET_NAME.search(m.group(1) or m.group(2))]


def _sh_word(tok: str) -> str:
    refs = _secret_refs(tok)
    if not refs:
        return shlex.quote(tok)
    parts, pos = [], 0
    for m in refs:
        if m.start() > pos:
            parts.append(shlex.quote(tok[pos : m.start()]))
        parts.append(f'"${{{m.group(1) or m.group(2)}}}"')
        pos = m.end()
    if pos < len(tok):
        parts.append(shlex.quote(tok[pos:]))
    return "".join(parts)


_BAT_MARK = "wantuiSecretRef"


def _bat_refs(tok: str) -> tuple[str, dict[str, str]]:
    """``tok`` with its secret references swapped for plain-letter marks, and the marks ->
    ``%NAME%`` (cmd expands it, quoted or not; the name is letters, digits and _)."""
    marks: dict[str, str] = {}
    for k, m in enumerate(reversed(_secret_refs(tok))):
        mark = f"{_BAT_MARK}{k}x"
        marks[mark] = f"%{m.group(1) or m.group(2)}%"
        tok = tok[: m.start()] + mark + tok[m.end() :]
    return tok, marks


def _bat_word(tok: str) -> str:
    tok, marks = _bat_refs(tok)
    out = bat_quote(tok)
    for mark, ref in marks.items():
        out = out.replace(mark, ref)
    return out


def comment_text(text: str, *, bat: bool = False) -> str:
    """``text`` safe inside a ``#`` or ``rem`` line: no line break can end the comment
    (a project name holding a newline would otherwise run its second line); for cmd
    also none of ``% ^ & | < > "`` (a ``rem`` line still sees ``%`` and ``^``)."""
    text = _CONTROLS.sub("?", text)
    return re.sub(r'[%^&|<>"]', "_", text) if bat else text


def _argv(project: Project, name: str, python: str) -> list[str]:
    argv = project.argv(name)
    # a C:\... path is absolute on Windows; Project.resolve, on POSIX, glued it onto the
    # project folder ("/home/me/proj/C:\Users\..."): write it back as the user gave it
    written = {
        str(project.dataset_config_path()): project.dataset_config,
        str(project.script_path(project.steps[name])): project.steps[name].script,
    }
    return [python] + [
        written[tok] if tok in written and _WIN_ABS.match(written[tok] or "") else tok
        for tok in argv[1:]
    ]


def _lines(argv: list[str]) -> list[list[str]]:
    """Group argv into display lines: the command head, then one option with its values per line."""
    head: list[str] = []
    i = 0
    while i < len(argv) and not argv[i].startswith("--"):
        head.append(argv[i])
        i += 1
    groups = [head]
    for tok in argv[i:]:
        # an option starts a line; so does the script after accelerate's own flags
        if tok.startswith("--") or (tok.endswith(".py") and groups[-1] is not head):
            groups.append([tok])
        else:
            groups[-1].append(tok)
    return [g for g in groups if g]


def _sh_python(project: Project) -> str:
    return str(project.resolve(project.python)) if project.python else "python"


def export_sh(project: Project) -> str:
    """A bash script with ``set -euo pipefail`` that runs the enabled steps."""
    out = [
        "#!/usr/bin/env bash",
        f"# {comment_text(project.name)}: musubi-tuner Wan pipeline, written by `wantui export`"
        f" from {comment_text(project.file.name)}.",
        "# Stops at the first failing step.",
        "set -euo pipefail",
        "",
        "# musubi-tuner resolves the dataset TOML's relative paths from the working directory",
        f"cd {shlex.quote(str(project.root))}",
    ]
    python = _sh_python(project)
    for name in STEP_NAMES:
        step = project.steps.get(name)
        if step is None:
            continue
        out.append("")
        if not step.enabled:
            out.append(
                f"# step {name} ({_TITLES[name]}) is disabled in {comment_text(project.file.name)}"
            )
            continue
        out.append(f'echo "== {name}: {_TITLES[name]}"')
        env = [_sh_word(f"{k}={v}") for k, v in step.env.items()]
        groups = _lines(_argv(project, name, python))
        first = " ".join([*(["env", *env] if env else []), *(_sh_word(t) for t in groups[0])])
        rendered = [first] + ["  " + " ".join(_sh_word(t) for t in g) for g in groups[1:]]
        out.append(" \\\n".join(rendered))
    out.append("")
    out.append('echo "== done"')
    return "\n".join(out) + "\n"


def bat_quote(arg: str) -> str:
    """Quote one argument for cmd.exe in a .bat file.

    ``%`` is doubled (batch expansion happens even inside quotes); anything outside a plain
    set of characters is double-quoted, so ``& | < > ^`` and spaces are literal. A ``"``
    inside is written as ``\\"`` for the C runtime's argv parser (python.exe).
    """
    bad = _BAT_UNQUOTABLE.search(arg)
    if bad is not None:
        what = "a double quote" if bad.group() == '"' else f"the control character {bad.group()!r}"
        raise WantuiError(
            f"cannot export to .bat: {arg!r} holds {what}, which cmd.exe cannot quote"
            " (it would end the quoting and run the rest as a command); export --sh, or"
            " remove it from wantui.toml",
            code=ExitCode.USAGE,
        )
    arg = arg.replace("%", "%%")
    if arg and _BAT_SAFE.match(arg):
        return arg
    inner = re.sub(r'(\\*)"', lambda m: m.group(1) * 2 + '\\"', arg)
    inner = re.sub(
        r"(\\+)$", lambda m: m.group(1) * 2, inner
    )  # backslashes before the closing quote
    return f'"{inner}"'


def _activate_bat(project: Project) -> str:
    """The venv activation line: beside the project's interpreter, else ``.venv`` of the
    checkout or the project folder."""
    if project.python:
        py = project.python.replace("/", "\\")
        m = re.match(r"^(.*)\\Scripts\\python(?:w)?(?:\.exe)?$", py, re.I)
        if m:
            return f"call {bat_quote(m.group(1) + chr(92) + 'Scripts' + chr(92) + 'activate.bat')}"
    if project.musubi_dir:
        venv = project.musubi_dir.replace("/", "\\").rstrip("\\") + "\\.venv\\Scripts\\activate.bat"
        return f"if exist {bat_quote(venv)} call {bat_quote(venv)}"
    return r"if exist .venv\Scripts\activate.bat call .venv\Scripts\activate.bat"


def export_bat(project: Project) -> str:
    """A Windows batch file: venv activation, ``^`` continuations, errorlevel checks."""
    out = [
        "@echo off",
        f"rem {comment_text(project.name, bat=True)}: musubi-tuner Wan pipeline, written by"
        f" `wantui export` from {comment_text(project.file.name, bat=True)}.",
        "rem Stops at the first failing step.",
        # "!" must stay literal even where the registry turns delayed expansion on
        "setlocal DisableDelayedExpansion",
        f"cd /d {bat_quote(str(project.root))}",
        "if errorlevel 1 exit /b 1",
        _activate_bat(project),
    ]
    python = project.python if project.python else "python"
    for name in STEP_NAMES:
        step = project.steps.get(name)
        if step is None:
            continue
        out.append("")
        if not step.enabled:
            out.append(
                f"rem step {name} ({_TITLES[name]}) is disabled in"
                f" {comment_text(project.file.name, bat=True)}"
            )
            continue
        out.append(f"echo == {name}: {_TITLES[name]}")
        if step.env:
            out.append("setlocal")
            for k, v in step.env.items():
                bat_quote(v)  # refuses what cmd cannot quote, as for arguments
                value, marks = _bat_refs(v)
                value = value.replace("%", "%%")
                for mark, ref in marks.items():
                    value = value.replace(mark, ref)
                out.append(f'set "{k}={value}"')
        groups = _lines(_argv(project, name, python))
        rendered = [" ".join(_bat_word(t) for t in g) for g in groups]
        # each continued line ends in ^ right before its CRLF
        out.extend(
            ("  " if k else "") + line + (" ^" if k < len(rendered) - 1 else "")
            for k, line in enumerate(rendered)
        )
        out.append("if errorlevel 1 exit /b 1")
        if step.env:
            out.append("endlocal")
    out.append("")
    out.append("echo == done")
    out.append("endlocal")
    # cmd.exe reads .bat files with CRLF line ends most reliably
    return "\r\n".join(out) + "\r\n"
