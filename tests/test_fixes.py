"""The fix engine (wantui.core.fixes: plans, journal, backups, the fix lock) under hostile
conditions, run as a user would (real subprocesses, real files).

Each test here is a bug that was found by hand: a read-only dataset TOML that `fix`
silently replaced, a journal that made undo crash, two applies at once, a file edited while
the user read the preview, a project folder moved between apply and undo, a Notepad BOM.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_helpers import WANTUI, cli_env, one_line_error, start_wantui

pytestmark = pytest.mark.timeout(120)  # generous: the shared box is often loaded


DATASET = (
    "[general]\n"
    "resolution = [960, 544]\n"
    'caption_extension = ".txt"\n'
    "num_frames = 5  # 日本語のコメント\n"
    "\n"
    "[[datasets]]\n"
    'video_directory = "vids"\n'
    'path = "x"\n'
    "target_frames = [1, 17]\n"
)


@pytest.fixture
def ds_dir(tmp_path: Path) -> Path:
    (tmp_path / "vids").mkdir()
    (tmp_path / "d.toml").write_text(DATASET, encoding="utf-8")
    return tmp_path


def test_dataset_config_with_bom_is_an_error_and_fixes_remove_it(ds_dir: Path, wantui_cli) -> None:
    """musubi-tuner's `toml.load` (toml 0.10) fails on a BOM: wantui read past it and said
    the file was fine. Now it is an error, and a fix writes the file without it."""
    d = ds_dir / "d.toml"
    d.write_bytes(b"\xef\xbb\xbf" + DATASET.replace("\n", "\r\n").encode())
    before = d.read_bytes()
    check = wantui_cli("check", "--dataset-config", "d.toml", "--json", cwd=ds_dir)
    found = {f["rule"]: f for f in json.loads(check.stdout)["findings"]}
    assert found["dataset-config-bom"]["severity"] == "error"
    assert found["dataset-config-bom"]["location"]["line"] == 1
    proc = wantui_cli("fix", "--dataset-config", "d.toml", "--apply", "all", "--yes", cwd=ds_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = d.read_bytes()
    assert after.startswith(b"[general]")
    assert b"num_frames" not in after and b"path =" not in after
    assert "日本語".encode() not in after  # the removed key's line took its comment along
    assert b"\n" not in after.replace(b"\r\n", b"")  # CRLF kept
    check = wantui_cli("check", "--dataset-config", "d.toml", "--json", cwd=ds_dir)
    rules = {f["rule"] for f in json.loads(check.stdout)["findings"]}
    assert not rules & {"toml-extra-key", "dataset-config-bom"}, rules
    # one apply, one undo (issue 9 item 16)
    assert wantui_cli("fix", "--dataset-config", "d.toml", "--undo", cwd=ds_dir).returncode == 0
    assert d.read_bytes() == before
    one_line_error(
        wantui_cli("fix", "--dataset-config", "d.toml", "--undo", cwd=ds_dir), 2, "nothing to undo"
    )


def test_json_dataset_config_bom_deep_nesting_and_no_toml_fixes(ds_dir: Path, wantui_cli) -> None:
    (ds_dir / "d.json").write_bytes(
        b'\xef\xbb\xbf{"general": {"resolution": [960, 544], "num_frames": 3},'
        b' "datasets": [{"video_directory": "vids"}]}'
    )
    check = wantui_cli("check", "--dataset-config", "d.json", "--json", cwd=ds_dir)
    found = {f["rule"]: f for f in json.loads(check.stdout)["findings"]}
    assert "Unexpected UTF-8 BOM" in found["dataset-config-bom"]["message"]
    listing = wantui_cli("fix", "--dataset-config", "d.json", cwd=ds_dir)
    assert "is JSON" in listing.stdout
    (ds_dir / "deep.json").write_text("[" * 100000 + "]" * 100000)
    check = wantui_cli("check", "--dataset-config", "deep.json", "--json", cwd=ds_dir)
    assert check.returncode == 1 and "internal" not in check.stderr, check.stderr
    (f,) = json.loads(check.stdout)["findings"]
    assert f["title"] == "The dataset config is not valid JSON" and "nested" in f["message"]


# -- the fix engine under hostile conditions -----------------------------------------------


def test_read_only_dataset_config_is_not_replaced(ds_dir: Path, wantui_cli) -> None:
    """The atomic rename only needs the folder to be writable, so a read-only file was
    silently replaced (and made writable-looking) by `fix --apply`."""
    d = ds_dir / "d.toml"
    d.chmod(0o444)
    try:
        proc = wantui_cli("fix", "--dataset-config", "d.toml", "--apply", "1", "--yes", cwd=ds_dir)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "read-only" in proc.stdout
        assert d.read_text(encoding="utf-8") == DATASET
        assert oct(d.stat().st_mode & 0o777) == oct(0o444)
        listing = wantui_cli("fix", "--dataset-config", "d.toml", cwd=ds_dir)
        assert "cannot apply" in listing.stdout and "read-only" in listing.stdout
    finally:
        d.chmod(0o644)


def test_journal_that_is_a_folder_means_no_write_at_all(ds_dir: Path, wantui_cli) -> None:
    """The file used to be rewritten, then the journal append crashed (exit 3): a fix
    applied with no record to undo it."""
    (ds_dir / ".wantui" / "journal.jsonl").mkdir(parents=True)
    proc = wantui_cli("fix", "--dataset-config", "d.toml", "--apply", "1", "--yes", cwd=ds_dir)
    assert proc.returncode == 1, proc.stderr
    assert "journal" in proc.stdout and "internal error" not in proc.stderr
    assert (ds_dir / "d.toml").read_text(encoding="utf-8") == DATASET


@pytest.mark.parametrize(
    "journal",
    [
        b'{"type":"apply","id":"x","file":5}\n',
        b'{"type":"apply","id":"x","file":"d.toml","backup":5}\n',
        b'{"type":"apply","id":["x"],"file":"d.toml","backup":"b"}\n{"type":"undo","of":["x"]}\n',
        b"\x00\x01binary\xff\xfe\n",
        b'{"type":"apply","id":"x","file":"d.toml","backup":"/etc/hostname",',  # torn
    ],
    ids=["file-int", "backup-int", "id-list", "binary", "torn"],
)
def test_corrupt_journal_undo_is_a_clean_refusal(ds_dir: Path, journal: bytes, wantui_cli) -> None:
    (ds_dir / ".wantui").mkdir()
    (ds_dir / ".wantui" / "journal.jsonl").write_bytes(journal)
    one_line_error(
        wantui_cli("fix", "--dataset-config", "d.toml", "--undo", cwd=ds_dir), 2, "nothing to undo"
    )
    assert (ds_dir / "d.toml").read_text(encoding="utf-8") == DATASET


def test_journal_naming_a_backup_outside_the_backups_folder_is_refused(
    ds_dir: Path, wantui_cli
) -> None:
    import hashlib

    outside = ds_dir / "evil.bak"
    outside.write_bytes(b"[general]\nowned = true\n")
    sha = hashlib.sha256(outside.read_bytes()).hexdigest()
    now = hashlib.sha256((ds_dir / "d.toml").read_bytes()).hexdigest()
    (ds_dir / ".wantui").mkdir()
    (ds_dir / ".wantui" / "journal.jsonl").write_text(
        json.dumps(
            {
                "type": "apply",
                "id": "x",
                "file": str(ds_dir / "d.toml"),
                "backup": str(outside),
                "sha256_before": sha,
                "sha256_after": now,
            }
        )
        + "\n"
    )
    one_line_error(
        wantui_cli("fix", "--dataset-config", "d.toml", "--undo", cwd=ds_dir),
        2,
        "outside",
    )
    assert (ds_dir / "d.toml").read_text(encoding="utf-8") == DATASET


def test_journal_fifo_does_not_hang(ds_dir: Path, wantui_cli) -> None:
    (ds_dir / ".wantui").mkdir()
    os.mkfifo(ds_dir / ".wantui" / "journal.jsonl")
    one_line_error(
        wantui_cli("fix", "--dataset-config", "d.toml", "--undo", cwd=ds_dir, timeout=30), 2, "FIFO"
    )
    proc = wantui_cli("fix", "--dataset-config", "d.toml", "--apply", "1", "--yes", cwd=ds_dir)
    assert proc.returncode == 1 and "journal" in proc.stdout
    assert (ds_dir / "d.toml").read_text(encoding="utf-8") == DATASET


def test_deleted_backups_folder_undo_says_so(ds_dir: Path, wantui_cli) -> None:
    import shutil

    assert (
        wantui_cli(
            "fix", "--dataset-config", "d.toml", "--apply", "1", "--yes", cwd=ds_dir
        ).returncode
        == 0
    )
    shutil.rmtree(ds_dir / ".wantui" / "backups")
    one_line_error(
        wantui_cli("fix", "--dataset-config", "d.toml", "--undo", cwd=ds_dir), 2, "backup"
    )


# -- two applies at once -------------------------------------------------------------------


def test_fix_lock_serialises_applies(ds_dir: Path, wantui_cli) -> None:
    """While another process holds .wantui/fix.lock, `fix --apply` waits; past its
    timeout it refuses without writing; once the lock is free it applies."""
    import fcntl

    (ds_dir / ".wantui").mkdir()
    lock = os.open(ds_dir / ".wantui" / "fix.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        env = {"WANTUI_FIX_LOCK_TIMEOUT": "0.5"}
        proc = wantui_cli(
            "fix", "--dataset-config", "d.toml", "--apply", "1", "--yes", cwd=ds_dir, env=env
        )
        assert proc.returncode == 1, proc.stderr
        assert "another `wantui fix`" in proc.stdout
        assert (ds_dir / "d.toml").read_text(encoding="utf-8") == DATASET
        waiting = start_wantui(
            "fix", "--dataset-config", "d.toml", "--apply", "1", "--yes", cwd=ds_dir
        )
        import time

        time.sleep(1.5)
        assert waiting.poll() is None, "it should wait for the lock"
        assert (ds_dir / "d.toml").read_text(encoding="utf-8") == DATASET
    finally:
        os.close(lock)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, out + err
    assert "num_frames" not in (ds_dir / "d.toml").read_text(encoding="utf-8")


def test_concurrent_applies_never_lose_an_edit(ds_dir: Path, wantui_cli) -> None:
    """Two `fix --apply all --yes` at once, twice: both keys end up removed, the
    journal records each change exactly once (no fix applied twice over a stale plan),
    and undo walks back to the original bytes."""
    d = ds_dir / "d.toml"
    journal = ds_dir / ".wantui" / "journal.jsonl"
    for _ in range(2):
        d.write_text(DATASET, encoding="utf-8")
        before = len(journal.read_bytes().splitlines()) if journal.exists() else 0
        procs = [
            start_wantui("fix", "--dataset-config", "d.toml", "--apply", "all", "--yes", cwd=ds_dir)
            for _ in range(2)
        ]
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode in (0, 1), out + err
            assert "Traceback" not in err and "internal" not in err, err
        text = d.read_text(encoding="utf-8")
        assert "num_frames" not in text and "path =" not in text
        lines = journal.read_bytes().splitlines()[before:]
        applies = [json.loads(x) for x in lines if json.loads(x)["type"] == "apply"]
        assert len(applies) == 2, applies
        assert applies[0]["sha256_after"] == applies[1]["sha256_before"]
        while wantui_cli("fix", "--dataset-config", "d.toml", "--undo", cwd=ds_dir).returncode == 0:
            pass
        assert d.read_text(encoding="utf-8") == DATASET


# -- other inputs of `wantui fix` ----------------------------------------------------------


def test_findings_and_log_inputs_that_never_end_are_refused(ds_dir: Path, wantui_cli) -> None:
    os.mkfifo(ds_dir / "pipe")
    for flag in ("--findings", "--log"):
        for target in ("pipe", "/dev/zero"):
            proc = wantui_cli("fix", flag, target, cwd=ds_dir, timeout=30)
            one_line_error(proc, 2, target)


def test_findings_file_nested_too_deeply_is_not_an_internal_error(ds_dir: Path, wantui_cli) -> None:
    (ds_dir / "deep.json").write_text('{"findings":' + "[" * 100000 + "]" * 100000 + "}")
    one_line_error(
        wantui_cli("fix", "--findings", "deep.json", cwd=ds_dir), 2, "deep.json", "nested"
    )


# -- as an ordinary user (the tests run as root here, which may write anything) -------------

SETPRIV = shutil.which("setpriv")


def _nobody_can_run_wantui() -> bool:
    """nobody must reach this checkout and interpreter (a clone under a 0700 folder is not)."""
    if os.geteuid() != 0 or SETPRIV is None:
        return False
    proc = subprocess.run(
        [SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups"]
        + [sys.executable, "-c", "import wantui"],
        cwd="/",
        capture_output=True,
        env=cli_env(),
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode == 0


needs_nobody = pytest.mark.skipif(
    not _nobody_can_run_wantui(),
    reason="needs root, setpriv, and a checkout the user nobody can read",
)


def as_nobody(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SETPRIV or "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        + [sys.executable, "-m", "wantui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=cli_env(HOME=str(cwd)),
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def open_dir() -> Path:
    """A folder nobody can reach (pytest's tmp_path sits under a 0700 folder)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="wantui-qa-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_nobody
def test_cwd_that_cannot_be_looked_into_is_not_an_internal_error(tmp_path: Path) -> None:
    for cmd in (["fix"], ["check"], ["fix", "--undo"]):
        proc = as_nobody(*cmd, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


@needs_nobody
def test_permission_denied_read_write_and_folder(open_dir: Path) -> None:
    tmp_path = open_dir
    d = tmp_path / "d.toml"
    d.write_text(DATASET)
    d.chmod(0o600)  # root's, unreadable for nobody
    one_line_error(
        as_nobody("check", "--dataset-config", "d.toml", cwd=tmp_path), 2, "permission denied"
    )
    d.chmod(0o644)  # readable, but not nobody's to write
    proc = as_nobody("fix", "--dataset-config", "d.toml", "--apply", "1", "--yes", cwd=tmp_path)
    assert proc.returncode == 1 and "not writable by you" in proc.stdout, proc.stdout + proc.stderr
    own = tmp_path / "mine"
    own.mkdir()
    (own / "d.toml").write_text(DATASET)
    os.chown(own / "d.toml", 65534, 65534)
    os.chown(own, 65534, 65534)
    own.chmod(0o555)  # nobody's file in nobody's read-only folder
    try:
        proc = as_nobody("fix", "--dataset-config", "d.toml", cwd=own)
        assert "the folder" in proc.stdout and "is not writable" in proc.stdout, proc.stdout
        proc = as_nobody("fix", "--dataset-config", "d.toml", "--apply", "all", "--yes", cwd=own)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert (own / "d.toml").read_text() == DATASET
        assert not (own / ".wantui").exists()
    finally:
        own.chmod(0o755)


def test_file_edited_while_the_user_reads_the_preview(ds_dir: Path) -> None:
    """Interactive apply on a terminal: the file changes while `Apply fix 1? [y/N]` waits;
    answering y must not overwrite the edit. Answering n or Ctrl-C writes nothing."""
    import pty
    import select
    import signal

    def session(answer: bytes | None, edit: bool) -> tuple[int, str]:
        pid, fd = pty.fork()
        if pid == 0:  # the child: wantui on a terminal
            # A shell starts background jobs with SIGINT ignored, and an ignored signal
            # survives exec: give the child the terminal's default, as a user's shell does.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.chdir(ds_dir)
            os.execve(
                sys.executable,
                [*WANTUI, "fix", "--dataset-config", "d.toml", "--apply", "1"],
                cli_env(),
            )
        out = b""
        deadline = 60.0  # python start-up on a loaded 2-core box
        while b"[y/N]" not in out and deadline > 0:
            ready, _, _ = select.select([fd], [], [], 0.5)
            deadline -= 0.5
            if ready:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        assert b"[y/N]" in out, out
        if edit:
            with open(ds_dir / "d.toml", "a", encoding="utf-8") as f:
                f.write("# edited in another window\n")
        if answer is None:
            os.kill(pid, signal.SIGINT)
        else:
            os.write(fd, answer)
        while True:
            ready, _, _ = select.select([fd], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        for _ in range(200):  # bounded: a child that does not exit fails the test, not CI
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")

    rc, out = session(b"y\n", edit=True)
    assert rc == 1 and "changed since the fix was planned" in out, out
    assert (ds_dir / "d.toml").read_text(encoding="utf-8").endswith("# edited in another window\n")
    (ds_dir / "d.toml").write_text(DATASET, encoding="utf-8")
    rc, _ = session(b"n\n", edit=False)
    assert rc == 0 and (ds_dir / "d.toml").read_text(encoding="utf-8") == DATASET
    rc, out = session(None, edit=False)
    assert rc == 130 and "interrupted" in out
    assert (ds_dir / "d.toml").read_text(encoding="utf-8") == DATASET
    assert not (ds_dir / ".wantui" / "journal.jsonl").exists()


def test_undo_after_the_project_folder_was_moved(tmp_path: Path, wantui_cli) -> None:
    """The journal holds absolute paths; after `mv proj proj2` undo said the backup was
    missing. It now reads them relative to the folder's old place."""
    old = tmp_path / "proj"
    old.mkdir()
    (old / "vids").mkdir()
    (old / "d.toml").write_text(DATASET, encoding="utf-8")
    assert (
        wantui_cli("fix", "--dataset-config", "d.toml", "--apply", "1", "--yes", cwd=old).returncode
        == 0
    )
    new = tmp_path / "renamed"
    old.rename(new)
    proc = wantui_cli("fix", "--dataset-config", "d.toml", "--undo", cwd=new)
    assert proc.returncode == 0, proc.stderr
    assert (new / "d.toml").read_text(encoding="utf-8") == DATASET
    assert not old.exists()


def test_guide_keys_path_and_num_frames_fixed_in_one_apply_all(tmp_path: Path, wantui_cli) -> None:
    """docs/reference/wan-facts.md §8 row 11: `path` and `num_frames` are not keys. `--apply all` renamed
    num_frames to `target_frames = 17`, an int, which is a new error; it now writes the list."""
    (tmp_path / "clips").mkdir()
    (tmp_path / "d.toml").write_text(
        '[general]\nresolution = [960, 544]\ncaption_extension = ".txt"\n'
        '[[datasets]]\npath = "clips"  # where my clips are\nnum_frames = 17\n'
    )
    proc = wantui_cli("fix", "--dataset-config", "d.toml", "--apply", "all", "--yes", cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    text = (tmp_path / "d.toml").read_text()
    assert 'video_directory = "clips"  # where my clips are' in text
    assert "target_frames = [17]" in text and "num_frames" not in text and "path" not in text
    check = wantui_cli("check", "--dataset-config", "d.toml", "--json", cwd=tmp_path)
    rules = {f["rule"] for f in json.loads(check.stdout)["findings"]}
    assert not rules & {"toml-extra-key", "toml-invalid-value"}, rules
