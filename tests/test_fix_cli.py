"""``wantui fix`` end to end: real subprocesses, real files, a pty for the y/N question,
and a download fix against the local hub look-alike."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hubserver import HubServer
from wantui.core.finding import Finding, Severity
from wantui.core.fixactions import FixAction
from wantui.core.fixes import Journal, apply_plan, plan_fix, undo_last
from wantui.core.project import load_project

ROOT = Path(__file__).resolve().parent.parent
DATASET = """# clips for the cat LoRA
[general]
resolution = [960, 544]  # w, h
caption_extension = ".txt"
num_frames = 17  # wrong key
[[datasets]]
video_directory = "clips"
cache_directory = "cache"
target_frames = [17]
"""
PROJECT = """# project
[project]
name = "cat"
dataset_config = "dataset.toml"

[steps.te]
script = "wan_cache_text_encoder_outputs.py"
args = ["--t5", "models/umt5_xxl_fp16.safetensors", "--batch_size", "16"]

[steps.train]
script = "wan_train_network.py"
args = ["--task", "t2v-14B"]
"""


def wantui(
    *args: str, cwd: Path, stdin: str | None = "", env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wantui", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def findings_file(tmp: Path) -> Path:
    fs = [
        Finding(
            rule="toml-extra-key",
            catalog="toml-extra-key",
            severity=Severity.ERROR,
            title="Unknown key num_frames",
            message="m",
            fixes=[
                FixAction(
                    "toml_rename_key",
                    {
                        "file": "dataset_config",
                        "table": "general",
                        "key": "num_frames",
                        "new_key": "target_frames",
                    },
                    "Rename num_frames",
                ),
                FixAction(
                    "toml_remove_key",
                    {"file": "dataset_config", "table": "general", "key": "num_frames"},
                    "Remove num_frames",
                ),
            ],
            origin="check",
        ),
        Finding(
            rule="no-attn",
            catalog="missing-attention-flag",
            severity=Severity.ERROR,
            title="No attention flag",
            message="m",
            fixes=[FixAction("flag_add", {"step": "train", "flag": "--sdpa"}, "Add --sdpa")],
            origin="log",
        ),
        Finding(
            rule="w",
            catalog="x",
            severity=Severity.WARNING,
            title="advice only",
            message="m",
            advice=["do it"],
        ),
    ]
    path = tmp / "findings.json"
    path.write_text(json.dumps({"findings": [f.to_json() for f in fs]}))
    return path


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    (tmp_path / "wantui.toml").write_text(PROJECT)
    (tmp_path / "dataset.toml").write_text(DATASET)
    (tmp_path / "clips").mkdir()
    return tmp_path


def test_list_json_and_text(proj):
    ff = findings_file(proj)
    r = wantui("fix", "--findings", str(ff), "--json", cwd=proj)
    assert r.returncode == 1, r.stderr  # error findings present
    data = json.loads(r.stdout)
    assert [f["id"] for f in data["fixes"]] == [1, 2, 3]
    assert data["fixes"][0]["label"] == "Rename num_frames"
    assert "+target_frames = 17  # wrong key" in data["fixes"][0]["preview"]
    for fix in data["fixes"]:  # the typed preview is the text preview, line for line
        lines = fix["preview_lines"]
        assert "".join(p["text"] + "\n" for p in lines) == fix["preview"]
        assert lines[0]["kind"] == "title"
    kinds = {p["text"]: p["kind"] for p in data["fixes"][0]["preview_lines"]}
    assert kinds["+target_frames = 17  # wrong key"] == "diff-add"
    assert kinds["-num_frames = 17  # wrong key"] == "diff-remove"
    assert any(p["kind"].startswith("argv") for p in data["fixes"][2]["preview_lines"])
    r = wantui("fix", "--findings", str(ff), cwd=proj)
    assert "  1  Rename num_frames" in r.stdout and "  3  Add --sdpa" in r.stdout


def test_apply_needs_a_terminal_or_yes(proj):
    ff = findings_file(proj)
    before = (proj / "dataset.toml").read_bytes()
    r = wantui("fix", "--findings", str(ff), "--apply", "1", cwd=proj)
    assert r.returncode == 2 and "--yes" in r.stderr and r.stderr.count("\n") == 1
    assert (proj / "dataset.toml").read_bytes() == before


def test_apply_yes_then_undo_byte_for_byte(proj):
    ff = findings_file(proj)
    before = (proj / "dataset.toml").read_bytes()
    r = wantui("fix", "--findings", str(ff), "--apply", "1", "--yes", cwd=proj)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "+target_frames = 17  # wrong key" in r.stdout and "Applied." in r.stdout
    assert "target_frames = 17  # wrong key" in (proj / "dataset.toml").read_text()
    r = wantui("fix", "--undo", cwd=proj)
    assert r.returncode == 0 and "Undone: Rename num_frames" in r.stdout
    assert (proj / "dataset.toml").read_bytes() == before
    r = wantui("fix", "--undo", cwd=proj)
    assert r.returncode == 2 and "nothing to undo" in r.stderr


def test_apply_all_skips_the_alternatives_of_an_applied_fix(proj):
    """Fix 1 renames the key, so fix 2 (remove the same key, its alternative) is skipped,
    not refused: every error is fixed, so --apply all exits 0."""
    ff = findings_file(proj)
    r = wantui("fix", "--findings", str(ff), "--apply", "all", "--yes", "--json", cwd=proj)
    assert r.returncode == 0, r.stdout
    results = {x["id"]: x for x in json.loads(r.stdout)["results"]}
    assert results[1]["applied"] and results[3]["applied"]
    assert not results[2]["applied"] and results[2]["skipped"] == "alternative"
    assert '"--sdpa"' in (proj / "wantui.toml").read_text()


def test_apply_all_replans_each_fix(proj):
    """A fix made moot by an earlier one of the same run is refused, not crash."""
    ff = findings_file(proj)
    data = json.loads(ff.read_text())
    other = json.loads(json.dumps(data["findings"][0]))  # another finding on the same key
    other["title"] = "the same key, found twice"
    other["fixes"] = other["fixes"][:1]
    other["fixes"][0]["params"]["new_key"] = "frame_count"
    data["findings"].append(other)
    ff.write_text(json.dumps(data))
    r = wantui("fix", "--findings", str(ff), "--apply", "all", "--yes", "--json", cwd=proj)
    assert r.returncode == 1, r.stdout  # one refused
    results = json.loads(r.stdout)["results"]
    refused = [x for x in results if x.get("refused")]
    assert len(refused) == 1 and "no key 'num_frames'" in refused[0]["refused"]


def test_apply_all_then_one_undo_reverts_the_whole_apply(proj):
    """Issue 9 item 16: `--apply all` is one apply, so `--undo` reverts every fix it made
    (two files here), and not a fix applied by an earlier command."""
    ff = findings_file(proj)
    earlier = FixAction("flag_add", {"step": "train", "flag": "--fp8_base"}, "Add --fp8_base")
    apply_plan(plan_fix(earlier, load_project(proj)), Journal(proj))
    ds_before = (proj / "dataset.toml").read_bytes()
    proj_before = (proj / "wantui.toml").read_bytes()
    r = wantui("fix", "--findings", str(ff), "--apply", "all", "--yes", "--json", cwd=proj)
    applied = [x for x in json.loads(r.stdout)["results"] if x["applied"]]
    assert len(applied) == 2, r.stdout  # the rename and --sdpa; the remove is refused
    assert (proj / "dataset.toml").read_bytes() != ds_before
    assert (proj / "wantui.toml").read_bytes() != proj_before
    r = wantui("fix", "--undo", cwd=proj)
    assert r.returncode == 0, r.stderr
    assert "Undone 2 fixes applied together" in r.stdout
    assert (proj / "dataset.toml").read_bytes() == ds_before
    assert (proj / "wantui.toml").read_bytes() == proj_before
    # the next undo reverts the earlier single apply, not more of the group
    r = wantui("fix", "--undo", "--json", cwd=proj)
    assert r.returncode == 0, r.stderr
    undo = json.loads(r.stdout)["undo"]
    assert undo["label"] == "Add --fp8_base" and "also_undone" not in undo
    assert (proj / "wantui.toml").read_text() == PROJECT


def test_group_undo_checks_every_file_before_restoring_any(proj):
    ff = findings_file(proj)
    r = wantui("fix", "--findings", str(ff), "--apply", "all", "--yes", cwd=proj)
    ds_after = (proj / "dataset.toml").read_bytes()
    (proj / "wantui.toml").write_text((proj / "wantui.toml").read_text() + "# edited\n")
    r = wantui("fix", "--undo", cwd=proj)
    assert r.returncode == 1 and "changed since the fix was applied" in r.stderr
    assert (proj / "dataset.toml").read_bytes() == ds_after  # nothing restored


def test_windows_backslash_is_applied_by_apply_all_and_exit_codes_agree(tmp_path):
    """Issue 9 item 13: a Windows path that breaks parsing is fixed by `--apply all --yes`;
    listing exits 1 (an error), applying every fix exits 0 and leaves nothing to list; an
    error with no fix exits 1 both ways."""
    ds = tmp_path / "ds.toml"
    text = (ROOT / "fixtures" / "configs" / "windows_paths_invalid.toml").read_text()
    ds.write_text(text)
    r = wantui("fix", "--dataset-config", str(ds), cwd=tmp_path)
    assert r.returncode == 1 and "cannot apply" not in r.stdout, r.stdout
    r = wantui("fix", "--dataset-config", str(ds), "--apply", "all", "--yes", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'video_directory = "D:/datasets/vid"' in ds.read_text()
    assert ds.read_text().splitlines()[0] == text.splitlines()[0]  # the comment stays
    r = wantui("fix", "--dataset-config", str(ds), cwd=tmp_path)
    assert r.returncode == 0 and "No fixes to apply" in r.stdout, r.stdout
    # an error finding without a fix: listing and --apply all both exit 1
    ds.write_text(
        '[general]\ncaption_extension = ".txt"\n[[datasets]]\nimage_jsonl_file = "x.jsonl"\n'
    )
    listed = wantui("fix", "--dataset-config", str(ds), cwd=tmp_path)
    applied = wantui("fix", "--dataset-config", str(ds), "--apply", "all", "--yes", cwd=tmp_path)
    assert listed.returncode == applied.returncode == 1, applied.stdout
    assert "No fixes to apply" in applied.stdout and "without an applied fix" in applied.stdout


def test_bad_ids_and_inputs_are_one_line(proj):
    ff = findings_file(proj)
    for args, needle in [
        (["--findings", str(ff), "--apply", "9", "--yes"], "no fix #9"),
        (["--findings", str(ff), "--apply", "x", "--yes"], "fix number or 'all'"),
        (["--findings", str(proj)], "is a directory"),
        (["--findings", str(proj / "nope.json")], "cannot read"),
        (["--log", str(proj / "nope.log")], "no such file"),
        (["--dataset-config", str(proj / "missing.toml")], "no such file"),
        (["--force"], "--force goes with --undo"),
    ]:
        r = wantui("fix", *args, cwd=proj)
        assert r.returncode == 2, (args, r.stderr)
        assert needle in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    (proj / "garbage.json").write_bytes(b"\x00\xff not json")
    r = wantui("fix", "--findings", str(proj / "garbage.json"), cwd=proj)
    assert r.returncode == 2 and "not JSON" in r.stderr


def test_dataset_config_alone_uses_the_real_checks(tmp_path):
    ds = tmp_path / "ds.toml"
    ds.write_text(DATASET)
    (tmp_path / "clips").mkdir()
    r = wantui("fix", "--dataset-config", str(ds), "--json", cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    fixes = json.loads(r.stdout)["fixes"]
    assert any(
        f["fix"]["action"] in ("toml_rename_key", "toml_remove_key")
        and f["fix"]["params"]["key"] == "num_frames"
        for f in fixes
    )
    n = next(f["id"] for f in fixes if f["fix"]["params"].get("key") == "num_frames")
    r = wantui("fix", "--dataset-config", str(ds), "--apply", str(n), "--yes", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "num_frames" not in ds.read_text()
    assert (tmp_path / ".wantui" / "journal.jsonl").is_file()
    r = wantui("fix", "--dataset-config", str(ds), "--undo", cwd=tmp_path)
    assert r.returncode == 0 and ds.read_text() == DATASET


def test_log_fixes_use_the_rule_base(proj):
    log = ROOT / "fixtures" / "logs" / "wan22-no-attention-flag.log"
    if not log.exists():
        pytest.skip("fixture log not present")
    r = wantui("fix", "--log", str(log), "--json", cwd=proj)
    assert r.returncode in (0, 1), r.stderr
    fixes = json.loads(r.stdout)["fixes"]
    assert any(f["fix"]["params"].get("flag") == "--sdpa" for f in fixes)


def _run_in_pty(args: list[str], cwd: Path, answer: bytes) -> tuple[int, str]:
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "-m", "wantui", *args],
        cwd=cwd,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            try:
                seen += os.read(master, 1024)
            except OSError:
                break
    os.write(master, answer)
    out = p.stdout.read().decode()
    rc = p.wait(timeout=60)
    os.close(master)
    assert b"[y/N]" in seen
    return rc, out


def test_interactive_question_on_a_tty(proj):
    ff = findings_file(proj)
    before = (proj / "dataset.toml").read_bytes()
    rc, out = _run_in_pty(["fix", "--findings", str(ff), "--apply", "1"], proj, b"n\n")
    assert rc == 0 and (proj / "dataset.toml").read_bytes() == before
    rc, out = _run_in_pty(["fix", "--findings", str(ff), "--apply", "1"], proj, b"y\n")
    assert rc == 0 and "Applied." in out
    assert (proj / "dataset.toml").read_bytes() != before


def test_download_fix_end_to_end(proj, monkeypatch, tmp_path):
    payload = os.urandom(256 * 1024)
    with HubServer(max_life=60) as hub:
        hub.add("Wan-AI/Wan2.1-I2V-14B-720P", "models_t5_umt5-xxl-enc-bf16.pth", payload)
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        project = load_project(proj)
        finding = Finding(
            rule="t5",
            catalog="wrong-t5-encoder",
            severity=Severity.ERROR,
            title="t",
            message="m",
            origin="model",
        )
        plan = plan_fix(
            FixAction("download", {"name": "t5", "step": "te", "flag": "--t5"}),
            project,
            finding=finding,
        )
        assert plan.refused is None
        preview = plan.preview()
        assert "Download: Wan-AI/Wan2.1-I2V-14B-720P/models_t5_umt5-xxl-enc-bf16.pth" in preview
        assert f"destination: {proj / 'models' / 'models_t5_umt5-xxl-enc-bf16.pth'}" in preview
        assert "free disk:" in preview
        assert (
            '+args = ["--t5", "models/models_t5_umt5-xxl-enc-bf16.pth", "--batch_size", "16"]'
            in preview
        )
        before = (proj / "wantui.toml").read_bytes()
        journal = Journal(proj)
        applied = apply_plan(plan, journal)
        assert applied.downloaded.read_bytes() == payload
        assert load_project(proj).steps["te"].args[:2] == [
            "--t5",
            "models/models_t5_umt5-xxl-enc-bf16.pth",
        ]
        undo_last(journal)
        assert (proj / "wantui.toml").read_bytes() == before
        # the CLI asks the hub for the size before showing the preview
        r = wantui(
            "fix",
            "--findings",
            str(_dl_findings(proj)),
            "--apply",
            "1",
            "--yes",
            cwd=proj,
            env={
                "HF_ENDPOINT": hub.endpoint,
                "HF_HUB_DISABLE_XET": "1",
                "HF_HOME": str(tmp_path / "hf"),
            },
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert "size:        256.0 KB" in r.stdout


def _dl_findings(tmp: Path) -> Path:
    f = Finding(
        rule="t5",
        catalog="wrong-t5-encoder",
        severity=Severity.ERROR,
        title="wrong T5",
        message="m",
        origin="model",
        fixes=[FixAction("download", {"name": "t5", "step": "te", "flag": "--t5"})],
    )
    path = tmp / "dl.json"
    path.write_text(json.dumps([f.to_json()]))
    return path
