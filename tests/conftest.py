"""Suite-wide safety net: no test leaves a process behind.

Many tests start real detached runs (their own sessions and process groups, by design:
they must survive the test's terminal). A test that fails before stopping its run would
otherwise leave a hanging fake step running after the suite, so at the end of the session
every process whose command line names this session's temporary folder is stopped.

Also the ``wantui_cli`` fixture: the real CLI as a subprocess with a clean home (the runner
itself, for tests and helpers without fixtures, is tests/cli_helpers.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_wantui

# a check that emits an undeclared id, names a template value it does not pass, or offers a
# fix its declaration does not list fails the test that reaches it (wantui/core/findings.py);
# set before wantui is imported, and inherited by the CLI subprocesses tests start
os.environ.setdefault("WANTUI_STRICT_IDS", "1")


def _leftovers(marker: str) -> list[int]:
    pids = []
    me = os.getpid()
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append(int(entry.name))
    return pids


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or os.name != "posix":
        return
    try:
        marker = str(factory.getbasetemp())
    except (OSError, ValueError):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _leftovers(marker)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        time.sleep(2.0)


# Layout snapshots are pixel-exact SVGs of one Textual release line: another line (the
# lowest supported Textual, a new minor) draws the same screen with other bytes. They run
# where Textual matches the line they were blessed with and are skipped, with the reason,
# elsewhere; re-bless with --snapshot-update and update this file's line to move them.
SNAPSHOT_TEXTUAL = Path(__file__).parent / "snapshots-textual-version.txt"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        blessed = SNAPSHOT_TEXTUAL.read_text(encoding="utf-8").strip()
        installed = version("textual")
    except (OSError, PackageNotFoundError):
        return
    if ".".join(installed.split(".")[:2]) == blessed:
        return
    skip = pytest.mark.skip(
        reason=f"snapshots were blessed with Textual {blessed}.x; this is Textual {installed}"
    )
    for item in items:
        if "snap_compare" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


@pytest.fixture
def wantui_cli(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., subprocess.CompletedProcess]:
    """Runs the real CLI (`python -m wantui ARGS`, a subprocess) with a clean environment:
    its own empty HOME and XDG folders (no user rules, config or hub login of the machine),
    no colour, no debug output, no WANTUI_RULES_PATH or HF_TOKEN. Call it as
    ``wantui_cli(*args, cwd=..., env={...extra}, timeout=..., input=..., text=...)``; it
    returns the CompletedProcess (returncode, stdout, stderr)."""
    home = tmp_path_factory.mktemp("home")
    clean = cli_env(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
    )
    for name in ("WANTUI_RULES_PATH", "HF_TOKEN", "HF_HUB_OFFLINE"):
        clean.pop(name, None)

    def run(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
        return run_wantui(*args, env={**clean, **(env or {})}, **kw)

    return run
