"""Issue 9, the command line side of the first hour: file modes, option values, no
terminal, Ctrl-C in serve, --help style, pasted Windows commands."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

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
