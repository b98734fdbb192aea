"""Refusals (outside the project, path from log text, symlink escape, changed since plan),
undo refusals, and a journal that survives a restart (a new process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wantui.core.errors import WantuiError
from wantui.core.finding import Finding, Severity
from wantui.core.fixactions import FixAction
from wantui.core.fixes import Journal, apply_plan, plan_fix, undo_last
from wantui.core.project import load_project

DATASET = """# my data
[general]
resolution = [960, 544]  # w, h
num_frames = 17  # wrong
[[datasets]]
video_directory = "clips"
"""
PROJECT = """# proj
[project]
name = "p"
dataset_config = "dataset.toml"

[steps.train]
script = "wan_train_network.py"
args = ["--task", "t2v-14B"]
"""
REMOVE = FixAction(
    "toml_remove_key", {"file": "dataset_config", "table": "general", "key": "num_frames"}
)


def make(tmp: Path, dataset_config: str = "dataset.toml") -> Path:
    (tmp / "wantui.toml").write_text(PROJECT.replace("dataset.toml", dataset_config))
    (tmp / "dataset.toml").write_text(DATASET)
    return tmp


def test_symlink_escaping_the_project_is_refused(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    outside = tmp_path / "elsewhere.toml"
    outside.write_text(DATASET)
    make(proj)
    (proj / "dataset.toml").unlink()
    (proj / "dataset.toml").symlink_to(outside)
    plan = plan_fix(REMOVE, load_project(proj))
    assert (
        plan.refused and "symlink" in plan.refused and "outside the project folder" in plan.refused
    )
    with pytest.raises(WantuiError):
        apply_plan(plan, Journal(proj))
    assert outside.read_text() == DATASET


def test_symlink_inside_the_project_is_followed(tmp_path):
    make(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "dataset.toml").rename(tmp_path / "real" / "ds.toml")
    (tmp_path / "dataset.toml").symlink_to(tmp_path / "real" / "ds.toml")
    plan = plan_fix(REMOVE, load_project(tmp_path))
    assert plan.refused is None
    apply_plan(plan, Journal(tmp_path))
    assert (tmp_path / "dataset.toml").is_symlink()  # the link stays a link
    assert "num_frames" not in (tmp_path / "real" / "ds.toml").read_text()


def test_project_file_symlinked_outside_is_refused(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    make(proj)
    real = tmp_path / "shared-wantui.toml"
    (proj / "wantui.toml").rename(real)
    (proj / "wantui.toml").symlink_to(real)
    plan = plan_fix(FixAction("flag_add", {"step": "train", "flag": "--sdpa"}), load_project(proj))
    assert plan.refused and "symlink" in plan.refused


def test_path_from_log_text_is_refused(tmp_path):
    make(tmp_path)
    finding = Finding(
        rule="wrong-t5",
        catalog="wrong-t5-encoder",
        severity=Severity.ERROR,
        title="t",
        message="m",
        captures={"path": "/etc/cron.d/evil.safetensors"},
        origin="log",
    )
    action = FixAction(
        "flag_set", {"step": "train", "flag": "--dit", "value": "/etc/cron.d/evil.safetensors"}
    )
    plan = plan_fix(action, load_project(tmp_path), finding=finding)
    assert plan.refused and "comes from the log text" in plan.refused
    # the same fix from a preflight check (not log text) is fine
    check = Finding(**{**finding.__dict__, "origin": "check"})
    assert plan_fix(action, load_project(tmp_path), finding=check).refused is None


def test_file_roles_only_never_paths(tmp_path):
    make(tmp_path)
    with pytest.raises(ValueError):
        FixAction("toml_remove_key", {"file": "/etc/passwd", "table": "", "key": "x"})
    # a forged action that slipped past validation is still refused by the planner
    forged = FixAction("toml_remove_key", {"file": "dataset_config", "table": "", "key": "x"})
    object.__setattr__(forged, "params", {"file": "../../etc/passwd", "table": "", "key": "x"})
    plan = plan_fix(forged, load_project(tmp_path))
    assert plan.refused and "file must be one of" in plan.refused


def test_write_outside_known_inputs_is_refused(tmp_path):
    """--dataset-config pointing elsewhere is a known input; a project's dataset path that
    resolves outside via .. is still the declared input, but a symlinked folder escape is not."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "dataset.toml").write_text(DATASET)
    (proj / "data").symlink_to(tmp_path / "outside")
    make(proj, dataset_config="data/dataset.toml")
    plan = plan_fix(REMOVE, load_project(proj))
    assert plan.refused and "outside the project folder" in plan.refused


def test_changed_since_plan_is_refused(tmp_path):
    make(tmp_path)
    plan = plan_fix(REMOVE, load_project(tmp_path))
    edited = DATASET + "# the user edited this meanwhile\n"
    (tmp_path / "dataset.toml").write_text(edited)
    with pytest.raises(WantuiError, match="changed since the fix was planned"):
        apply_plan(plan, Journal(tmp_path))
    assert (tmp_path / "dataset.toml").read_text() == edited
    assert Journal(tmp_path).entries() == []


def test_undo_refuses_when_file_changed_unless_forced(tmp_path):
    make(tmp_path)
    journal = Journal(tmp_path)
    apply_plan(plan_fix(REMOVE, load_project(tmp_path)), journal)
    (tmp_path / "dataset.toml").write_text("seed = 1\n")
    with pytest.raises(WantuiError, match="changed since the fix was applied"):
        undo_last(journal)
    assert (tmp_path / "dataset.toml").read_text() == "seed = 1\n"
    result = undo_last(journal, force=True)
    assert (tmp_path / "dataset.toml").read_text() == DATASET
    assert result.backup_of_current.read_text() == "seed = 1\n"  # forced undo keeps the edits too
    with pytest.raises(WantuiError, match="nothing to undo"):
        undo_last(journal)


def test_journal_survives_a_restart(tmp_path):
    """Apply in one process, undo in another: the journal alone carries the state."""
    make(tmp_path)
    original = (tmp_path / "dataset.toml").read_bytes()
    code = (
        "import sys\n"
        "from wantui.core.fixactions import FixAction\n"
        "from wantui.core.fixes import Journal, apply_plan, plan_fix\n"
        "from wantui.core.project import load_project\n"
        "p = load_project(sys.argv[1])\n"
        "a = FixAction('toml_remove_key', {'file': 'dataset_config', 'table': 'general', 'key': 'num_frames'})\n"
        "apply_plan(plan_fix(a, p), Journal(p.root))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60)
    assert (tmp_path / "dataset.toml").read_bytes() != original
    entries = [
        json.loads(line)
        for line in (tmp_path / ".wantui" / "journal.jsonl").read_text().splitlines()
    ]
    assert entries[0]["type"] == "apply" and entries[0]["file"] == str(tmp_path / "dataset.toml")
    assert {"id", "time", "sha256_before", "sha256_after", "backup", "action"} <= entries[0].keys()
    r = subprocess.run(
        [sys.executable, "-m", "wantui", "fix", "--project", str(tmp_path), "--undo"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dataset.toml").read_bytes() == original


def test_torn_journal_line_is_skipped(tmp_path):
    make(tmp_path)
    journal = Journal(tmp_path)
    apply_plan(plan_fix(REMOVE, load_project(tmp_path)), journal)
    with open(journal.path, "ab") as f:
        f.write(b'{"type": "apply", "id": "torn", "fi')  # a crash in the middle of a line
    assert len(journal.entries()) == 1
    undo_last(journal)
    assert (tmp_path / "dataset.toml").read_text() == DATASET


def test_tampered_backup_is_not_restored(tmp_path):
    make(tmp_path)
    journal = Journal(tmp_path)
    applied = apply_plan(plan_fix(REMOVE, load_project(tmp_path)), journal)
    applied.backup.write_text("garbage\n")
    with pytest.raises(WantuiError, match="backup does not match"):
        undo_last(journal)


def test_undo_order_is_last_first(tmp_path):
    make(tmp_path)
    journal = Journal(tmp_path)
    p = load_project(tmp_path)
    apply_plan(plan_fix(REMOVE, p), journal)
    after_first = (tmp_path / "dataset.toml").read_bytes()
    apply_plan(
        plan_fix(
            FixAction(
                "toml_set_key",
                {"file": "dataset_config", "table": "general", "key": "batch_size", "value": 1},
            ),
            p,
        ),
        journal,
    )
    apply_plan(plan_fix(FixAction("flag_add", {"step": "train", "flag": "--sdpa"}), p), journal)
    undo_last(journal)
    assert "--sdpa" not in (tmp_path / "wantui.toml").read_text()
    undo_last(journal)
    assert (tmp_path / "dataset.toml").read_bytes() == after_first
    undo_last(journal)
    assert (tmp_path / "dataset.toml").read_text() == DATASET


def test_atomic_write_errors_are_one_line(tmp_path):
    from wantui.core.fsutil import atomic_write

    with pytest.raises(WantuiError, match="is a directory"):
        atomic_write(tmp_path, b"x")
    with pytest.raises(WantuiError, match="folder does not exist"):
        atomic_write(tmp_path / "no" / "such.toml", b"x")
    f = tmp_path / "ro" / "a.toml"
    f.parent.mkdir()
    f.write_text("old")
    os.chmod(f, 0o600)
    atomic_write(f, b"new")
    assert oct(f.stat().st_mode & 0o777) == "0o600" and f.read_text() == "new"


def test_stale_temp_files_of_killed_writes_are_cleaned(tmp_path):
    from wantui.core.fsutil import atomic_write

    f = tmp_path / "dataset.toml"
    f.write_text("a = 1\n")
    stale = tmp_path / ".dataset.toml.abc123.tmp"
    fresh = tmp_path / ".dataset.toml.def456.tmp"
    other = tmp_path / ".other.toml.abc123.tmp"
    for p in (stale, fresh, other):
        p.write_text("partial")
    old = 1_000_000_000
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write(f, b"a = 2\n")
    assert not stale.exists()  # left by a write killed long ago
    assert fresh.exists()  # may be another process writing right now
    assert other.exists()  # not this file's
