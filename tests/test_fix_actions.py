"""Each fix action on commented fixtures, against golden ``.fixed.toml`` files.

Fixtures: ``fixtures/fixes/<case>.toml`` (the input: a dataset TOML or a wantui.toml),
``<case>.json`` (the action) and ``<case>.fixed.toml`` (the expected result, written by
hand). ``WANTUI_BLESS=1`` only rewrites a golden whose content is unchanged (line endings);
it never creates one (tests/bless.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.bless import check_golden
from wantui.core.fixactions import FixAction
from wantui.core.fixes import Journal, apply_plan, plan_fix, undo_last
from wantui.core.project import load_project

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fixes"
CASES = sorted(p.stem for p in FIXTURES.glob("*.json"))

DATASET = """[general]
resolution = [960, 544]
[[datasets]]
video_directory = "clips"
"""


def make_project(tmp: Path, case: str) -> tuple[Path, dict]:
    spec = json.loads((FIXTURES / f"{case}.json").read_text())
    src = (FIXTURES / f"{case}.toml").read_bytes()
    if spec["kind"] == "dataset":
        (tmp / "wantui.toml").write_text('[project]\nname = "t"\ndataset_config = "dataset.toml"\n')
        target = tmp / "dataset.toml"
    else:
        (tmp / "dataset.toml").write_text(DATASET)
        target = tmp / "wantui.toml"
    target.write_bytes(src)
    return target, spec


def test_every_action_has_a_golden_case():
    actions = {json.loads((FIXTURES / f"{c}.json").read_text())["action"] for c in CASES}
    # download and rerun_step do not edit a fixture file; they have their own tests
    assert actions >= {
        "toml_remove_key",
        "toml_rename_key",
        "toml_move_key",
        "toml_set_key",
        "flag_add",
        "flag_remove",
        "flag_set",
        "flag_replace",
        "env_set",
    }


@pytest.mark.parametrize("case", CASES)
def test_golden(case, tmp_path):
    target, spec = make_project(tmp_path, case)
    before = target.read_bytes()
    project = load_project(tmp_path)
    action = FixAction(spec["action"], spec["params"])
    plan = plan_fix(action, project)
    assert plan.refused is None, plan.refused
    preview = plan.preview()
    assert f"--- a/{target.name}" in preview and f"+++ b/{target.name}" in preview
    if spec["action"] == "env_set":
        assert "Step train environment: USE_LIBUV=0 (was unset)" in preview
    elif spec["kind"] == "project":
        assert "before: " in preview and "after:  " in preview
    journal = Journal(tmp_path)
    applied = apply_plan(plan, journal)
    after = target.read_bytes()
    golden = FIXTURES / f"{case}.fixed.toml"
    check_golden(golden, after)
    # the backup holds the old bytes
    assert applied.backup is not None and applied.backup.read_bytes() == before
    # undo restores byte for byte
    undo_last(journal)
    assert target.read_bytes() == before


def _changed_lines(a: bytes, b: bytes) -> tuple[list[str], list[str]]:
    import difflib

    al, bl = a.decode().splitlines(), b.decode().splitlines()
    minus, plus = [], []
    for line in difflib.ndiff(al, bl):
        if line.startswith("- "):
            minus.append(line[2:])
        elif line.startswith("+ "):
            plus.append(line[2:])
    return minus, plus


def test_remove_changes_only_that_line(tmp_path):
    target, spec = make_project(tmp_path, "remove_key")
    before = target.read_bytes()
    plan = plan_fix(FixAction(spec["action"], spec["params"]), load_project(tmp_path))
    minus, plus = _changed_lines(before, plan.change.after)
    assert minus == ["num_frames = 17             # how many frames per sample"] and plus == []


def test_rename_keeps_value_comment_and_position(tmp_path):
    target, spec = make_project(tmp_path, "rename_key")
    plan = plan_fix(FixAction(spec["action"], spec["params"]), load_project(tmp_path))
    minus, plus = _changed_lines(target.read_bytes(), plan.change.after)
    assert minus == ["num_frames = 17             # how many frames per sample"]
    assert plus == ["target_frames = 17             # how many frames per sample"]


def test_set_keeps_comment_and_quoting_elsewhere(tmp_path):
    target, spec = make_project(tmp_path, "set_key_float")
    plan = plan_fix(FixAction(spec["action"], spec["params"]), load_project(tmp_path))
    minus, plus = _changed_lines(target.read_bytes(), plan.change.after)
    assert plus == ["source_fps = 30.0             # the camera's frame rate"]
    assert (
        "video_directory = '/data/clips'   # literal string on purpose"
        in plan.change.after.decode()
    )


def test_flag_preview_shows_argv_before_and_after(tmp_path):
    target, spec = make_project(tmp_path, "flag_set_launch")
    plan = plan_fix(FixAction(spec["action"], spec["params"]), load_project(tmp_path))
    lines = plan.preview().splitlines()
    before = next(line for line in lines if line.startswith("Step train, before:"))
    after = next(line for line in lines if line.startswith("Step train, after:"))
    assert "accelerate.commands.launch --mixed_precision bf16" in before
    assert "accelerate.commands.launch --mixed_precision fp16" in after
    # the script's own --mixed_precision is untouched by a launch fix
    assert after.count("--mixed_precision bf16") == 1


def test_user_comments_in_project_survive(tmp_path):
    for case in ("flag_add", "env_set", "flag_remove"):
        target, spec = make_project(tmp_path, case)
        plan = plan_fix(FixAction(spec["action"], spec["params"]), load_project(tmp_path))
        text = plan.change.after.decode()
        assert "# wantui project for the cat LoRA" in text
        assert "# training: 24 GB card" in text
        assert 'dataset_config = "dataset.toml"  # next to this file' in text


def test_rerun_step_plans_no_file_change(tmp_path):
    make_project(tmp_path, "flag_add")
    project = load_project(tmp_path)
    plan = plan_fix(FixAction("rerun_step", {"step": "latents"}), project)
    assert plan.refused is None and plan.change is None and plan.rerun == "latents"
    assert "Run the step 'latents' again" in plan.preview()
    applied = apply_plan(plan, Journal(tmp_path))
    assert applied.rerun == "latents" and applied.file is None
    assert not (tmp_path / ".wantui" / "journal.jsonl").exists()


def test_env_all_steps(tmp_path):
    make_project(tmp_path, "flag_add")
    plan = plan_fix(
        FixAction("env_set", {"step": "all", "name": "HF_HUB_OFFLINE", "value": "1"}),
        load_project(tmp_path),
    )
    apply_plan(plan, Journal(tmp_path))
    project = load_project(tmp_path)
    assert all(s.env.get("HF_HUB_OFFLINE") == "1" for s in project.steps.values())


@pytest.mark.parametrize(
    ("action", "params", "reason"),
    [
        (
            "toml_remove_key",
            {"file": "dataset_config", "table": "general", "key": "nope"},
            "no key 'nope'",
        ),
        (
            "toml_rename_key",
            {
                "file": "dataset_config",
                "table": "datasets[0]",
                "key": "num_frames",
                "new_key": "target_frames",
            },
            "already set",
        ),
        (
            "toml_set_key",
            {"file": "dataset_config", "table": "datasets[7]", "key": "x", "value": 1},
            "no datasets[7]",
        ),
        (
            "toml_set_key",
            {"file": "dataset_config", "table": "general", "key": "batch_size", "value": 1},
            "already has this value",
        ),
        (
            "toml_move_key",
            {
                "file": "dataset_config",
                "table": "general",
                "key": "batch_size",
                "to_table": "general",
            },
            "already in that table",
        ),
        (
            "toml_remove_key",
            {"file": "dataset_config", "table": "general", "key": "a.b"},
            "bad key",
        ),
        ("flag_remove", {"step": "train", "flag": "--nope"}, "not in this step"),
        ("flag_add", {"step": "train", "flag": "--task"}, "already given"),
        ("flag_add", {"step": "train", "flag": "rm -rf"}, "bad flag"),
        (
            "env_set",
            {"step": "train", "name": "BAD NAME", "value": "1"},
            "bad environment variable",
        ),
    ],
)
def test_impossible_fixes_are_refused_with_a_reason(tmp_path, action, params, reason):
    target, _ = make_project(tmp_path, "remove_key")
    (tmp_path / "wantui.toml").write_bytes((FIXTURES / "flag_add.toml").read_bytes())
    before = target.read_bytes(), (tmp_path / "wantui.toml").read_bytes()
    plan = plan_fix(FixAction(action, params), load_project(tmp_path))
    assert plan.refused is not None and reason in plan.refused
    assert "Refused:" in plan.preview()
    with pytest.raises(Exception, match="refused"):
        apply_plan(plan, Journal(tmp_path))
    assert (target.read_bytes(), (tmp_path / "wantui.toml").read_bytes()) == before


def test_dataset_alone_without_project(tmp_path):
    ds = tmp_path / "ds.toml"
    shutil.copy(FIXTURES / "remove_key.toml", ds)
    before = ds.read_bytes()
    plan = plan_fix(
        FixAction(
            "toml_remove_key",
            {"file": "dataset_config", "table": "datasets[0]", "key": "num_frames"},
        ),
        None,
        dataset_config=ds,
    )
    assert plan.refused is None and plan.root == tmp_path
    applied = apply_plan(plan, Journal(plan.root))
    assert (tmp_path / ".wantui" / "backups").is_dir() and applied.backup.read_bytes() == before
    # a project-file fix needs a project
    p2 = plan_fix(
        FixAction("flag_add", {"step": "train", "flag": "--sdpa"}), None, dataset_config=ds
    )
    assert p2.refused and "open a project" in p2.refused


def test_argv_changes_name_what_a_flag_fix_changes() -> None:
    from wantui.core.fixes.plan import argv_changes

    before = ["py", "train.py", "--task", "t2v-14B", "--dit", "d.safetensors", "--sage_attn"]
    after = ["py", "train.py", "--task", "t2v-A14B", "--dit", "d.safetensors", "--sdpa", "--gc"]
    assert argv_changes(before, after) == [
        "~ --task t2v-14B -> t2v-A14B",
        "~ --sage_attn -> --sdpa --gc",
    ]
    assert argv_changes(["a", "--fp8_scaled"], ["a"]) == ["- --fp8_scaled"]
    assert argv_changes(["a"], ["a", "--sdpa"]) == ["+ --sdpa"]
    assert argv_changes(["a"], ["a"]) == []


def test_fix_targets_tell_alternatives_from_complements() -> None:
    from wantui.core.fixactions import FixAction, fix_targets

    rename = FixAction(
        "toml_rename_key",
        {"file": "dataset_config", "table": "general", "key": "k", "new_key": "j"},
    )
    remove = FixAction(
        "toml_remove_key", {"file": "dataset_config", "table": "general", "key": "k"}
    )
    assert fix_targets(rename) & fix_targets(remove)  # either one: alternatives
    script = FixAction("flag_set", {"step": "train", "flag": "--mixed_precision", "value": "bf16"})
    launch = FixAction("flag_set", {"step": "launch", "flag": "--mixed_precision", "value": "bf16"})
    assert not fix_targets(script) & fix_targets(launch)  # both are needed
