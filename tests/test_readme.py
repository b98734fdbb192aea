"""The README's quick start is exactly two commands, and CI runs the README's test command."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from wantui.core.rules.examples import read_marked_log

ROOT = Path(__file__).resolve().parent.parent


def _quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_quick_start_has_exactly_two_commands() -> None:
    cmds = _quick_start_commands()
    assert len(cmds) == 2, cmds
    assert all("\n" not in c for c in cmds)
    assert "wantui" in cmds[0] and "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _quick_start_commands()[1] in ci


def test_quick_start_example_exists_and_diagnoses() -> None:
    first = _quick_start_commands()[0]
    args = shlex.split(first.split("&&", 1)[1])
    # the example log without its fixture markers, piped in
    assert args[:3] == ["grep", "-v", "^#="] and args[4:] == ["|", "wantui", "diagnose", "-"]
    log = ROOT / args[3]
    assert log.is_file()
    plain = b"".join(
        line for line in log.read_bytes().splitlines(keepends=True) if not line.startswith(b"#=")
    )
    assert plain == read_marked_log(log).data
    out = subprocess.run(
        [sys.executable, "-m", "wantui", "diagnose", "--json", "-"],
        input=plain.decode("utf-8"),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 1, out.stderr  # a failed run: an error finding
    assert '"missing-attention-flag"' in out.stdout


def test_readme_links_exist() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(((?:docs|rules)/[^)#]+)\)", text):
        assert (ROOT / target).exists(), target
