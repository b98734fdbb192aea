"""Issue 9, the command line side of the first hour: file modes, option values, no
terminal, Ctrl-C in serve, --help style, pasted Windows commands."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cli_helpers import run_wantui
from tests.serve_helpers import free_port, start_serve, stop_serve
from wantui.core.fsutil import atomic_write

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def umask():  # noqa: ANN201 - set the process umask for one test, then put it back
    saved = os.umask(0o022)
    os.umask(saved)

    def set_(value: int) -> None:
        os.umask(value)

    yield set_
    os.umask(saved)


@posix_only
@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_get_the_users_umask(tmp_path: Path, umask, mask: int, expected: int) -> None:  # noqa: ANN001
    umask(mask)
    f = tmp_path / "wantui.toml"
    atomic_write(f, b"a = 1\n")
    assert _mode(f) == expected


@posix_only
def test_an_existing_files_mode_is_kept_and_its_backup_keeps_it(tmp_path: Path, umask) -> None:  # noqa: ANN001
    umask(0o022)
    (tmp_path / "wantui.toml").write_text("name = 'x'\n")
    f = tmp_path / "dataset.toml"
    f.write_text("a = 1\n")
    os.chmod(f, 0o640)
    backup = atomic_write(f, b"a = 2\n")
    assert _mode(f) == 0o640
    assert backup is not None and _mode(backup) == 0o640  # not world-readable via .wantui/


@posix_only
def test_run_records_get_the_users_umask(tmp_path: Path, umask) -> None:  # noqa: ANN001
    from wantui.core.supervisor.rundir import atomic_write_json

    umask(0o022)
    atomic_write_json(tmp_path / "run.json", {"a": 1})
    assert _mode(tmp_path / "run.json") == 0o644


# -- 22: option values and the terminal ----------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent


def _usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from wantui.cli.main import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors exit directly
        code = int(exc.code)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "fast"])
@pytest.mark.parametrize("command", ["demo", "replay"])
def test_replay_speed_must_be_above_zero(
    command: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "train.log"
    log.write_text("x\n")
    argv = [command, *([str(log)] if command == "replay" else []), "--speed", value]
    code, err = _usage(argv, capsys)
    assert code == 2
    assert "--speed" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--num-processes", "0"],
        ["run", "--num-processes", "two"],
        ["run", "--stop", "--grace", "-1"],
        ["serve", "--port", "0"],
        ["serve", "--port", "70000"],
    ],
)
def test_numeric_options_are_checked_by_argparse(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _usage([*argv, *(["--project", str(tmp_path)] if argv[0] == "run" else [])], capsys)
    assert code == 2
    assert f"argument {argv[-2]}" in err and "Traceback" not in err


def _no_terminal(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_DRIVER"}
    env["PYTHONPATH"] = str(ROOT)
    # without NO_COLOR: the test checks that wantui itself writes no escape codes into a pipe;
    # the timeout: before the check, the app spun here without end
    return run_wantui(*argv, cwd=cwd, env=env, timeout=60)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("argv", [["demo"], [], ["replay", "LOG"]])
def test_the_app_refuses_to_start_without_a_terminal(argv: list[str], tmp_path: Path) -> None:
    from tests.fakes.fakeproject import make_project

    make_project(tmp_path / "p")
    log = tmp_path / "train.log"
    log.write_text("INFO: hello\n")
    argv = [str(log) if a == "LOG" else a for a in argv]
    proc = _no_terminal(argv, tmp_path / "p")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs a terminal" in lines[0], proc.stderr
    assert "\x1b" not in proc.stdout  # no escape codes written into a pipe or a file


# -- 25: serve and Ctrl-C ------------------------------------------------------------------
@posix_only
@pytest.mark.timeout(120)
def test_serve_exits_130_on_ctrl_c(tmp_path: Path) -> None:
    pytest.importorskip("textual_serve")
    free = free_port()
    proc = start_serve(
        tmp_path, free, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=False
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{free}/", timeout=1).read()
                break
            except urllib.error.HTTPError:
                break  # up (the page wants the token it printed)
            except OSError:
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        stop_serve(proc)


# -- 25: one --help style ------------------------------------------------------------------
def _help_texts() -> list[tuple[str, str, str]]:
    """(command, option, help) for every documented option of every subcommand."""
    import argparse

    from wantui.cli.main import COMMANDS, build_parser

    out: list[tuple[str, str, str]] = []

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:  # noqa: SLF001 - argparse keeps them here
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                for name, sub in action.choices.items():
                    walk(f"{prefix} {name}", sub)
                continue
            if action.help in (None, argparse.SUPPRESS) or isinstance(
                action,
                argparse._HelpAction,  # noqa: SLF001 - argparse's own wording
            ):
                continue
            out.append((prefix, "/".join(action.option_strings) or action.dest, action.help))

    for name, (_module, text) in COMMANDS.items():
        out.append((name, "(command)", text))
        parser = build_parser(only=name)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
        walk(name, sub.choices[name])
    return out


def test_help_texts_follow_one_style() -> None:
    bad: list[str] = []
    for command, option, text in _help_texts():
        where = f"{command} {option}: {text!r}"
        first = text.split()[0]
        # a lowercase phrase; a word in capitals (GPU, JSON), a flag or code may lead
        if not (text[0].islower() or first.isupper() or text[0] in "`-'\"" or first[:1].isdigit()):
            bad.append(f"starts with a capital: {where}")
        if text.rstrip().endswith("."):
            bad.append(f"ends with a period: {where}")
        for m in re.finditer(r"default", text):
            if not text[m.end() :].startswith(": ") or text[: m.start()][-1:] != "(":
                bad.append(f"a default not written '(default: X)': {where}")
        if option == "--json" and not text.startswith("print one JSON object"):
            bad.append(f"--json not 'print one JSON object ...': {where}")
        if option in ("--project", "folder", "dir") and not text.startswith("the project folder"):
            bad.append(f"a project folder not 'the project folder ...': {where}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("command", sorted(__import__("wantui.cli.main").cli.main.COMMANDS))
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from wantui.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: wantui {command}")
    assert "options:" in out


# -- 25: a pasted Windows command whose backslashes bash ate -------------------------------
@pytest.mark.skipif(os.name == "nt", reason="on Windows C:models is a real drive-relative path")
@pytest.mark.parametrize(
    ("flag", "value"),
    [("--vae", "C:Usersmemodelswan_2.1_vae.safetensors"), ("--dit", "C:models")],
)
def test_a_windows_path_without_its_backslashes_gets_a_hint_to_quote_it(
    flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:  # noqa: ANN001
    import json

    from wantui.cli.main import main

    monkeypatch.chdir(tmp_path)
    script = "wan_cache_latents.py" if flag == "--vae" else "wan_train_network.py"
    main(["check", "--json", "--", "python", script, flag, value])
    found = json.loads(capsys.readouterr().out)["findings"]
    about = [f for f in found if value in f["message"]]
    assert about, [f["title"] for f in found]
    f = about[0]
    assert "backslashes" in f["title"] and "quote" in f["message"].lower()
    assert "C:/Users/" in f["message"]  # the forward-slash spelling is offered too
    # a path that merely does not exist gets no such guess
    main(["check", "--json", "--", "python", script, flag, "models/none.safetensors"])
    plain = json.loads(capsys.readouterr().out)["findings"]
    assert not any("backslashes" in g["title"] for g in plain)
