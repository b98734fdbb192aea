"""SIGKILL at random moments during real applies: the dataset TOML is always exactly one
complete version (the old or the new one), never truncated, missing or mixed.

A forked child (cheap: modules are already imported) applies ``toml_set_key counter = N+1``
in a loop through the real plan/apply path (tomlkit, backup, temp file, fsync, rename,
journal); the parent kills it after a random delay and checks the file.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from wantui.core.fixactions import FixAction
from wantui.core.fixes import Journal, apply_plan, plan_fix, undo_last
from wantui.core.fixes.toml_edit import set_key
from wantui.core.project import load_project

TRIALS = int(os.environ.get("WANTUI_KILL_TRIALS", "100"))
RAW_TRIALS = int(os.environ.get("WANTUI_RAW_KILL_TRIALS", "200"))
# tomlkit is slow on long files (about 1 s for 200 KB), so the full-apply test keeps the
# TOML small; the raw atomic_write test below uses 1 MB writes to hit the write window
BASE = (
    "# dataset\n"
    + "".join(f"# padding line {i:05d} {'x' * 60}\n" for i in range(40))
    + "[general]\nresolution = [960, 544]  # keep\ncounter = 0  # bumped by the test\n"
    + '[[datasets]]\nvideo_directory = "clips"\n'
)


def version(n: int) -> bytes:
    return set_key(BASE, "general", "counter", n).encode() if n else BASE.encode()


def child_loop(root: Path) -> None:
    project = load_project(root)
    journal = Journal(root)
    while True:
        n = int(_counter(root.joinpath("dataset.toml").read_bytes()))
        action = FixAction(
            "toml_set_key",
            {"file": "dataset_config", "table": "general", "key": "counter", "value": n + 1},
        )
        apply_plan(plan_fix(action, project), journal)


def _counter(data: bytes) -> str:
    for line in data.decode().splitlines():
        if line.startswith("counter = "):
            return line.split("=", 1)[1].split("#", 1)[0].strip()
    raise AssertionError("no counter line")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_during_apply_never_corrupts(tmp_path, capsys):
    (tmp_path / "wantui.toml").write_text(
        '[project]\nname = "k"\ndataset_config = "dataset.toml"\n'
    )
    target = tmp_path / "dataset.toml"
    target.write_bytes(BASE.encode())
    rng = random.Random(1234)
    seen_versions: set[int] = set()
    stale_temps = 0
    started = time.monotonic()
    window = 0.12
    for _ in range(TRIALS):
        before = int(_counter(target.read_bytes()))
        pid = os.fork()
        if pid == 0:  # child
            try:
                child_loop(tmp_path)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, window))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if window < 2.0 and not Journal(tmp_path).entries():
            # on a busy disk one fsync can outlast the window: widen it until applies land,
            # or every kill falls before the first one and the test proves nothing
            window *= 1.5
        data = target.read_bytes()  # never missing
        n = int(_counter(data))
        assert n >= before
        assert data == version(n), f"torn file after kill (counter {n})"
        seen_versions.add(n)
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        stale_temps += len(temps)
        for p in temps:  # a killed write leaves its temp file; the target is intact
            p.unlink()
    elapsed = time.monotonic() - started
    journal = Journal(tmp_path)
    applied = journal.entries()  # readable despite torn last lines
    assert applied and all(e["type"] == "apply" for e in applied)
    with capsys.disabled():
        print(
            f"\nkill test: {TRIALS} SIGKILLs in {elapsed:.1f}s, {len(seen_versions)} distinct versions, "
            f"{max(seen_versions)} applies, {stale_temps} kills landed mid-write (temp file left), "
            f"0 torn or missing files"
        )
    assert len(seen_versions) > 1


def raw_version(k: int) -> bytes:
    head = f"version {k:08d}\n".encode()
    return head + bytes([k % 251]) * (1 << 20) + head


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_during_atomic_write_of_large_files(tmp_path, capsys):
    from wantui.core.fsutil import atomic_write

    target = tmp_path / "big.toml"
    target.write_bytes(raw_version(0))
    rng = random.Random(99)
    mid_write = 0
    seen: set[int] = set()
    started = time.monotonic()
    for _ in range(RAW_TRIALS):
        pid = os.fork()
        if pid == 0:
            try:
                k = int(target.read_bytes()[8:16])
                while True:
                    k += 1
                    atomic_write(target, raw_version(k), backup=False)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        data = target.read_bytes()
        k = int(data[8:16])
        assert data == raw_version(k), f"torn file after kill (version {k})"
        seen.add(k)
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        mid_write += bool(temps)
        for p in temps:
            p.unlink()
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nraw kill test: {RAW_TRIALS} SIGKILLs of 1 MiB atomic writes in {elapsed:.1f}s, "
            f"{mid_write} landed mid-write, {len(seen)} distinct versions, 0 torn or missing files"
        )
    assert mid_write > 0


def _journal_invariant(root: Path) -> tuple[str, int]:
    """After a kill the file is either the one the last undoable record wrote, or still
    that record's old bytes (killed between the record and the rename): never a change
    the journal does not know about. Returns which of the two, and the counter."""
    import hashlib

    data = (root / "dataset.toml").read_bytes()
    n = int(_counter(data))
    if n == 0:
        return "untouched", n
    last = Journal(root).last_undoable()
    assert last is not None, f"counter {n} on disk but no apply in the journal"
    now = hashlib.sha256(data).hexdigest()
    if now == last["sha256_after"]:
        return "landed", n
    assert now == last["sha256_before"], f"counter {n} on disk with no undo record for it"
    return "interrupted", n


def _project(tmp_path: Path) -> Path:
    (tmp_path / "wantui.toml").write_text(
        '[project]\nname = "k"\ndataset_config = "dataset.toml"\n'
    )
    (tmp_path / "dataset.toml").write_bytes(BASE.encode())
    return tmp_path


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kill_right_after_the_rename_leaves_an_undo_record(tmp_path):
    """Deterministic: the child SIGKILLs itself the instant the dataset TOML is renamed
    into place. Before the write-ahead journal this left the fix applied and unrecorded."""
    root = _project(tmp_path)
    target = os.path.realpath(root / "dataset.toml")
    pid = os.fork()
    if pid == 0:
        try:
            real_replace = os.replace

            def replace_then_die(src, dst, *a, **kw):  # type: ignore[no-untyped-def]
                real_replace(src, dst, *a, **kw)
                if os.path.realpath(dst) == target:
                    os.kill(os.getpid(), signal.SIGKILL)

            os.replace = replace_then_die  # this child only
            project = load_project(root)
            action = FixAction(
                "toml_set_key",
                {"file": "dataset_config", "table": "general", "key": "counter", "value": 7},
            )
            apply_plan(plan_fix(action, project), Journal(root))
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert _counter((root / "dataset.toml").read_bytes()) == "7"
    assert _journal_invariant(root) == ("landed", 7)
    undo_last(Journal(root))
    assert (root / "dataset.toml").read_bytes() == BASE.encode()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_during_apply_never_loses_the_undo_record(tmp_path, capsys):
    """≥100 random SIGKILLs of a loop of applies: after each, every change on disk has its
    journal record; at the end undo walks back, fix by fix, to the very first bytes."""
    root = _project(tmp_path)
    # one apply here first: imports done and the cycle timed, so the kills are spread
    # over whole applies in the children rather than over their start-up
    t0 = time.monotonic()
    action = FixAction(
        "toml_set_key",
        {"file": "dataset_config", "table": "general", "key": "counter", "value": 1},
    )
    apply_plan(plan_fix(action, load_project(root)), Journal(root))
    cycle = time.monotonic() - t0
    rng = random.Random(4321)
    outcomes = {"untouched": 0, "landed": 0, "interrupted": 0}
    started = time.monotonic()
    for _ in range(TRIALS):
        pid = os.fork()
        if pid == 0:
            try:
                child_loop(root)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 3 * cycle))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        kind, _n = _journal_invariant(root)
        outcomes[kind] += 1
    applies = int(_counter((root / "dataset.toml").read_bytes()))
    undone = interrupted = 0
    journal = Journal(root)
    while journal.last_undoable() is not None:
        result = undo_last(journal)
        undone += 1
        interrupted += not result.landed
    assert (root / "dataset.toml").read_bytes() == BASE.encode()
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\njournal kill test: {TRIALS} SIGKILLs in {elapsed:.1f}s, {applies} applies,"
            f" {outcomes['interrupted']} kills found a record whose rename had not happened, 0 changes without"
            f" an undo record; {undone} undos ({interrupted} of unlanded applies) restored"
            " the original bytes"
        )
    assert undone >= applies
