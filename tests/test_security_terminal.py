"""Terminal escapes from outside text never reach the terminal (issue 10, defect 9).

A video and a model file are named with an OSC 52 clipboard write (``ESC ] 52 ; c ;
<base64> BEL``) and its C1 form (``0x9d ... 0x9c``); a log line and the log's own name
carry them too. ``check``, ``inspect``, ``doctor``, ``diagnose`` and ``fix`` must print
them as visible escapes (``\\x1b]52``) and never emit ESC, BEL or a C1 control; with
``--json`` the data stays exact (json escapes the controls).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_wantui
from wantui.core.textsafe import json_text, printable

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # would put "rm -rf ~" on the clipboard
C1_OSC = "\x9d52;c;cm0=\x9c"
CSI_C1 = "\x9b2J"  # clear screen, C1 form
# the same, as a TOML basic string escapes it
OSC52_TOML = OSC52.replace("\x1b", "\\u001b").replace("\x07", "\\u0007")
BAD_BYTES = [b"\x1b", b"\x07", b"\x9b", b"\x9c", b"\x9d", b"\r"]


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    (tmp_path / "clips").mkdir()
    (tmp_path / "models").mkdir()
    for name in (f"clip{OSC52}.mp4", f"c1{C1_OSC}.mp4", f"cls{CSI_C1}.mp4"):
        (tmp_path / "clips" / name).write_bytes(b"\0" * 64)
    (tmp_path / "models" / f"dit{OSC52}.safetensors").write_bytes(b"garbage" * 10)
    (tmp_path / "dataset.toml").write_text(
        '[general]\nresolution = [960, 544]\ncaption_extension = ".txt"\n'
        '[[datasets]]\nvideo_directory = "clips"\ncache_directory = "cache"\n'
        f'target_frames = [1]\nnote = "{OSC52_TOML}"\n'
    )
    (tmp_path / "wantui.toml").write_text(
        '[project]\nname = "p"\ndataset_config = "dataset.toml"\n\n'
        '[steps.train]\nscript = "wan_train_network.py"\n'
        f'args = ["--task", "t2v-14B", "--dit", "models/dit{OSC52_TOML}.safetensors"]\n'
    )
    log = tmp_path / f"train{OSC52}.log"
    log.write_text(
        "INFO:musubi_tuner.training.trainer_base:preparing accelerator\n"
        f"ValueError: Could not find the dtype in the model weights: models/dit{OSC52}{C1_OSC}.safetensors\n"
    )
    return tmp_path


def wantui(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = cli_env(XDG_CONFIG_HOME=str(cwd / "cfg"))
    return run_wantui(*args, cwd=cwd, env=env, timeout=120, input=b"", text=False)


def assert_inert(r: subprocess.CompletedProcess[bytes]) -> str:
    raw = r.stdout + r.stderr
    for bad in BAD_BYTES:
        assert bad not in raw, (bad, raw[:2000])
    text = raw.decode("utf-8", "replace")
    c1 = [hex(ord(c)) for c in text if 0x80 <= ord(c) <= 0x9F]
    assert not c1, c1
    return text


def _log(proj: Path) -> str:
    return next(p.name for p in proj.iterdir() if p.name.startswith("train"))


COMMANDS = {
    "check": lambda p: ["check", "--dataset-config", "dataset.toml"],
    "check project": lambda p: ["check"],
    "inspect": lambda p: ["inspect", "models"],
    "doctor": lambda p: ["doctor", "--no-probe"],
    "diagnose": lambda p: ["diagnose", _log(p)],
    "fix": lambda p: ["fix", "--dataset-config", "dataset.toml"],
    "fix --log": lambda p: ["fix", "--log", _log(p)],
    "missing file": lambda p: ["inspect", f"models/gone{OSC52}.safetensors"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_outside_names_print_as_visible_escapes(proj: Path, command: str) -> None:
    r = wantui(proj, *COMMANDS[command](proj))
    assert r.returncode in (0, 1, 2), r.stderr
    text = assert_inert(r)
    assert "Traceback" not in text
    if command in ("check", "inspect", "missing file", "doctor"):
        assert "\\x1b]52;c;cm0gLXJmIH4=\\x07" in text, text  # shown, so the user sees it
    if command == "diagnose":  # log text loses its ESC sequences; the C1 ones are shown
        assert "\\x9d52;c;cm0=\\x9c" in text, text


@pytest.mark.parametrize("command", ["check", "inspect", "diagnose", "doctor"])
def test_json_output_keeps_the_exact_names(proj: Path, command: str) -> None:
    r = wantui(proj, *COMMANDS[command](proj), "--json")
    assert r.returncode in (0, 1, 2), r.stderr
    assert_inert(r)
    assert any(OSC52 in t for t in strings(json.loads(r.stdout)))  # exact once parsed


def strings(obj: object) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in (*strings(k), *strings(v))]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return []


def test_printable_escapes_every_terminal_control() -> None:
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable(OSC52) == "\\x1b]52;c;cm0gLXJmIH4=\\x07"
    assert printable(C1_OSC + CSI_C1) == "\\x9d52;c;cm0=\\x9c\\x9b2J"
    assert printable("over\rwrite\x7f\x00") == "over\\x0dwrite\\x7f\\x00"
    assert printable("evil\u202etxt.exe\u2066") == "evil\\u202etxt.exe\\u2066"
    assert printable("tab\there é 日本 ✓") == "tab\there é 日本 ✓"
    assert printable("one\ntwo") == "one\\x0atwo"
    assert printable("one\ntwo", newlines=True) == "one\ntwo"
    s = json_text({"name": OSC52 + C1_OSC + "\u202e"})
    assert json.loads(s) == {"name": OSC52 + C1_OSC + "\u202e"}
    assert not any(0x80 <= ord(c) <= 0x9F or c in "\x1b\x07\u202e" for c in s)
