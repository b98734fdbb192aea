"""Command injection through exported scripts (issue 10 #8).

The .bat is checked against an emulation of cmd.exe's batch parser: phase 1 (``%``
expansion, even inside quotes), phase 2 (``"`` toggles quoting; outside it ``^``
escapes and ``& | < >`` start another command or a redirection; a trailing ``^``
continues the line), then the C runtime's argv rules (backslashes before ``"``) that
python.exe applies to its command line. The .sh is run by bash.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wantui.cli.main import main
from wantui.core.errors import WantuiError
from wantui.core.export import _argv, export_bat, export_sh
from wantui.core.project import load_project

# -- a small cmd.exe emulator --------------------------------------------------------


def phase1(line: str, env: dict[str, str]) -> str:
    """Percent expansion as in a batch file: %% -> %, %VAR% -> its value (empty when
    undefined), %0-%9 and %* -> the (empty) script arguments, a lone % vanishes."""
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        nxt = line[i + 1 : i + 2]
        if nxt == "%":
            out.append("%")
            i += 2
        elif nxt.isdigit() or nxt == "*":
            i += 2
        else:
            j = line.find("%", i + 1)
            if j < 0:
                i += 1
            else:
                out.append(env.get(line[i + 1 : j].upper(), ""))
                i = j + 1
    return "".join(out)


def phase2(line: str) -> tuple[str, list[str], bool]:
    """(the line with escapes applied, the operators found outside quotes, whether it
    ends in a continuation ^)."""
    out, ops, quoted, i = [], [], False, 0
    while i < len(line):
        c = line[i]
        if c == '"':
            quoted = not quoted
            out.append(c)
        elif quoted:
            out.append(c)
        elif c == "^":
            if i + 1 == len(line):
                return "".join(out), ops, True
            out.append(line[i + 1])
            i += 1
        elif c in "&|<>":
            ops.append(c)
            out.append(c)
        else:
            out.append(c)
        i += 1
    return "".join(out), ops, False


def crt_argv(cmdline: str) -> list[str]:
    """CommandLineToArgvW / the MSVC runtime: whitespace splits outside quotes; 2n
    backslashes + " -> n backslashes and a quote toggle; 2n+1 -> n and a literal "."""
    args: list[str] = []
    cur: list[str] = []
    have, quoted, i = False, False, 0
    while i < len(cmdline):
        c = cmdline[i]
        if c == "\\":
            j = i
            while j < len(cmdline) and cmdline[j] == "\\":
                j += 1
            n = j - i
            if j < len(cmdline) and cmdline[j] == '"':
                cur.append("\\" * (n // 2))
                if n % 2:
                    cur.append('"')
                    i = j + 1
                else:
                    i = j
                have = True
                continue
            cur.append("\\" * n)
            have, i = True, j
            continue
        if c == '"':
            quoted, have = not quoted, True
        elif c in " \t" and not quoted:
            if have:
                args.append("".join(cur))
            cur, have = [], False
        else:
            cur.append(c)
            have = True
        i += 1
    if have:
        args.append("".join(cur))
    return args


def run_cmd_emulator(text: str, env: dict[str, str]) -> list[tuple[str, str]]:
    """The logical lines of a .bat as cmd would execute them: (first word, the rest).
    Fails on any operator outside quotes or delayed expansion left on."""
    assert "setlocal DisableDelayedExpansion" in text.split("\r\n")[:6]
    assert "\n" not in text.replace("\r\n", "")
    commands: list[tuple[str, str]] = []
    pending = ""
    for raw in text.split("\r\n"):
        line, ops, cont = phase2(phase1(pending + raw, env))
        if cont:
            pending += raw[:-1]  # the ^ and the line break vanish
            continue
        pending = ""
        if not line.strip():
            continue
        word = line.split(None, 1)[0].lstrip("@").lower()
        if word == "rem":
            # a rem line ends at its line break; nothing in it runs
            continue
        assert not ops, f"cmd would see {ops} outside quotes in: {line!r}"
        first = crt_argv(line)[0] if word.startswith('"') or "\\" in word or "/" in word else word
        commands.append((first, line))
    return commands


# -- hostile projects -----------------------------------------------------------------

HOSTILE_ARGS = [
    ".*(norm|emb).*",
    "100%",
    "%PATH%",
    "%1 %* %~dp0",
    "a^b&c",
    "!x!",
    "C:\\dir with space\\",
    "<in> (x) >out",
    "tab\there",
    "x & calc.exe & y",
    "ends with \\\\",
    "",
]
HOSTILE_ENV = {"VAL_A": "x & calc.exe", "VAL_B": "50%|%PATH%", "VAL_C": "!v! ^ <a>"}


def _toml_str(s: str) -> str:
    for a, b in (("\\", "\\\\"), ('"', '\\"'), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        s = s.replace(a, b)
    return '"' + s + '"'


def write_project(
    root: Path, *, name: str = "demo", args=None, env=None, python: str = "python"
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    args = HOSTILE_ARGS if args is None else args
    env = HOSTILE_ENV if env is None else env
    env_toml = ", ".join(f"{k} = {_toml_str(v)}" for k, v in env.items())
    (root / "wantui.toml").write_text(
        "[project]\n"
        f"name = {_toml_str(name)}\n"
        f"python = {_toml_str(python)}\n"
        'dataset_config = "dataset.toml"\n\n'
        "[steps.train]\n"
        f"args = [{', '.join(_toml_str(a) for a in ['--network_args', *args])}]\n"
        f"env = {{ {env_toml} }}\n",
        encoding="utf-8",
    )
    return root


def test_bat_round_trips_every_hostile_argument_through_cmd(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path / "p", name="x\r\n& calc.exe & rem"))
    text = export_bat(project)
    commands = run_cmd_emulator(text, {"PATH": "EXPANDED"})
    words = [w for w, _ in commands]
    assert "calc.exe" not in " ".join(words)
    assert set(words) <= {"echo", "setlocal", "cd", "if", "set", "endlocal", "python"}, words
    (py_line,) = [line for w, line in commands if w == "python"]
    assert crt_argv(py_line) == _argv(project, "train", "python")
    sets = {}
    for w, line in commands:
        if w == "set":
            body = line.split(None, 1)[1]
            assert body.startswith('"') and body.endswith('"'), body
            key, value = body[1:-1].split("=", 1)
            sets[key] = value
    assert sets == HOSTILE_ENV


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("arg", 'x" & calc.exe & "'),
        ("arg", "two\nlines"),
        ("arg", "cr\rhere"),
        ("env", 'a"&calc.exe'),
        ("env", "line\nbreak"),
    ],
)
def test_bat_refuses_what_cmd_cannot_quote(tmp_path: Path, capsys, where: str, value: str) -> None:
    root = write_project(
        tmp_path / "p",
        args=[value] if where == "arg" else [],
        env={"K": value} if where == "env" else {},
    )
    with pytest.raises(WantuiError, match="cmd.exe cannot quote"):
        export_bat(load_project(root))
    assert main(["export", "--project", str(root), "--bat", str(tmp_path / "x.bat")]) == 2
    assert not (tmp_path / "x.bat").exists()
    assert "Traceback" not in capsys.readouterr().err


def test_bat_refuses_a_project_folder_with_a_quote(tmp_path: Path) -> None:
    root = write_project(tmp_path / 'we"ird & calc')
    with pytest.raises(WantuiError, match="cmd.exe cannot quote"):
        export_bat(load_project(root))


@pytest.mark.parametrize("key", ["A;touch PWNED", "1X", "A B", "A=B", "$(touch PWNED)", ""])
def test_env_names_are_checked_when_the_project_loads(tmp_path: Path, key: str) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "wantui.toml").write_text(
        f'[project]\nname = "n"\n[steps.train]\nenv = {{ {_toml_str(key)} = "1" }}\n'
    )
    with pytest.raises(WantuiError, match="not a valid environment variable name"):
        load_project(root)


@pytest.mark.skipif(sys.platform == "win32", reason="runs bash")
def test_sh_runs_no_injected_command(tmp_path: Path) -> None:
    """A newline in the project name once escaped its comment line and ran; values and
    arguments with every shell metacharacter reach the program unchanged."""
    recorder = tmp_path / "rec.sh"
    out = tmp_path / "argv.txt"
    recorder.write_text(
        f'#!/bin/sh\nprintf "%s\\0" "$@" > {out}\nenv | grep ^VAL_ | sort >> {out}.env\n'
    )
    recorder.chmod(0o755)
    args = [*HOSTILE_ARGS, "$(touch PWNED1)", "`touch PWNED2`", "'; touch PWNED3; '", 'a"b']
    root = write_project(
        tmp_path / "p",
        name="x\ntouch PWNED0\n#",
        args=args,
        env={**HOSTILE_ENV, "VAL_D": "$(touch PWNED4)\nnext line"},
        python=str(recorder),
    )
    project = load_project(root)
    script = tmp_path / "run.sh"
    script.write_text(export_sh(project))
    res = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 0, res.stderr
    assert not list(tmp_path.rglob("PWNED*")), "the exported script ran an injected command"
    argv = out.read_bytes().split(b"\0")[:-1]
    assert [a.decode() for a in argv] == _argv(project, "train", str(recorder))[1:]
    env_out = (tmp_path / "argv.txt.env").read_text()
    assert "VAL_A=x & calc.exe" in env_out and "VAL_D=$(touch PWNED4)" in env_out
