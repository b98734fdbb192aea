"""The fix-action registry and the one fix flow: each action is one module that says its
parameters, description and plan; a plan's preview is typed data; the flow plans,
applies with a journal and undoes the same way for every front end."""

from __future__ import annotations

from pathlib import Path

import pytest

from wantui.core.finding import Finding, Severity
from wantui.core.fixactions import FixAction, fix_targets, validate_action
from wantui.core.fixes import FixSession, PreviewLine, describe_action, plan_fix
from wantui.core.fixes.actions import UNITS
from wantui.core.fixes.actions.base import PARAM_TYPES, Action
from wantui.core.project import load_project

ACTIONS_DIR = Path(__file__).resolve().parent.parent / "wantui/core/fixes/actions"

# one well-formed parameter set per action (descriptions and validation are read from it)
SAMPLES: dict[str, dict] = {
    "toml_remove_key": {"file": "dataset_config", "table": "general", "key": "num_frames"},
    "toml_rename_key": {"file": "dataset_config", "table": "", "key": "a", "new_key": "b"},
    "toml_move_key": {"file": "dataset_config", "table": "", "key": "a", "to_table": "general"},
    "toml_set_key": {"file": "dataset_config", "table": "general", "key": "a", "value": "1"},
    "toml_edits": {
        "file": "dataset_config",
        "edits": [{"action": "toml_remove_key", "table": "general", "key": "a"}],
    },
    "toml_fix_windows_paths": {"file": "dataset_config"},
    "flag_add": {"step": "train", "flag": "--sdpa"},
    "flag_remove": {"step": "train", "flag": "--xformers"},
    "flag_set": {"step": "train", "flag": "--max_train_epochs", "value": "4"},
    "flag_replace": {"step": "train", "flag": "--xformers", "new_flag": "--sdpa"},
    "env_set": {"step": "train", "name": "USE_LIBUV", "value": "0"},
    "download": {"name": "wan2.1-vae"},
    "rerun_step": {"step": "latents"},
}


def test_each_action_is_one_module_found_by_the_registry() -> None:
    modules = {p.stem for p in ACTIONS_DIR.glob("*.py") if not p.stem.startswith("_")}
    assert set(UNITS) == modules - {"base"}
    assert set(SAMPLES) == set(UNITS)
    for name, unit in UNITS.items():
        assert isinstance(unit, Action) and unit.name == name
        assert all(p.type in PARAM_TYPES for p in unit.params)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_validation_reads_the_parameter_list(name: str) -> None:
    unit = UNITS[name]
    params = SAMPLES[name]
    assert validate_action(name, params) is None
    assert describe_action(FixAction(name, params)) not in ("", name)
    for required in sorted(unit.required):
        short = {k: v for k, v in params.items() if k != required}
        assert f"missing parameter(s): {required}" in (validate_action(name, short) or "")
    assert "unknown parameter(s): bogus" in (validate_action(name, {**params, "bogus": 1}) or "")
    for p in unit.params:  # the closed vocabularies, checked by the parameter's type
        if p.type in ("role", "step") and p.name in params:
            bad = {**params, p.name: "elsewhere"}
            assert f"{p.name} must be one of" in (validate_action(name, bad) or "")
            assert validate_action(name, bad, templated=True) is None  # a rule template


def test_an_unknown_action_names_the_registry() -> None:
    problem = validate_action("shell_run", {})
    assert problem is not None and "toml_set_key" in problem and "shell_run" in problem


def test_alternatives_and_complements_come_from_the_units() -> None:
    rename = FixAction("toml_rename_key", SAMPLES["toml_rename_key"])
    remove = FixAction("toml_remove_key", {**SAMPLES["toml_remove_key"], "table": "", "key": "a"})
    assert fix_targets(rename) & fix_targets(remove)
    edits = FixAction("toml_edits", SAMPLES["toml_edits"])
    assert fix_targets(edits) == {("toml", "dataset_config", "general", "a")}


def _project(tmp: Path) -> Path:
    (tmp / "wantui.toml").write_text(
        '[project]\nname = "t"\ndataset_config = "dataset.toml"\n\n'
        '[steps.train]\nargs = ["--max_train_epochs", "16", "--xformers"]\n'
    )
    (tmp / "dataset.toml").write_text("[general]\nresolution = [960, 544]\nnum_frames = 81\n")
    return tmp


def test_a_plan_carries_typed_changes_and_preview_lines(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path))
    toml = plan_fix(FixAction("toml_remove_key", SAMPLES["toml_remove_key"]), project)
    assert [c.kind for c in toml.changes] == ["toml-edit"]
    kinds = [line.kind for line in toml.preview_lines()]
    assert kinds[0] == "title" and kinds.count("diff-file") == 2
    assert PreviewLine("diff-remove", "-num_frames = 81") in toml.preview_lines()
    assert toml.preview() == "".join(line.text + "\n" for line in toml.preview_lines())

    flag = plan_fix(FixAction("flag_replace", SAMPLES["flag_replace"]), project)
    assert [c.kind for c in flag.changes] == ["argv-edit", "project-edit"]
    argv = flag.changes[0]
    assert "--xformers" in argv.before and "--sdpa" in argv.after  # type: ignore[union-attr]
    assert any(line.kind == "argv-replace" for line in flag.preview_lines())

    env = plan_fix(FixAction("env_set", SAMPLES["env_set"]), project)
    assert [c.kind for c in env.changes] == ["project-edit", "env"]
    assert env.changes[1].was is None  # type: ignore[union-attr]

    rerun = plan_fix(FixAction("rerun_step", {"step": "train"}), project)
    assert [c.kind for c in rerun.changes] == ["rerun"]

    refused = plan_fix(FixAction("flag_remove", {"step": "latents", "flag": "--x"}), project)
    assert [line.kind for line in refused.preview_lines()] == ["title", "refused"]


def _finding(*fixes: FixAction) -> Finding:
    return Finding("r", "r", Severity.ERROR, "t", "m", fixes=list(fixes), origin="check")


def test_the_flow_plans_applies_skips_alternatives_and_undoes(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = {p: (root / p).read_bytes() for p in ("wantui.toml", "dataset.toml")}
    rename = FixAction(
        "toml_rename_key",
        {"file": "dataset_config", "table": "general", "key": "num_frames", "new_key": "nf"},
    )
    remove = FixAction("toml_remove_key", SAMPLES["toml_remove_key"])
    epochs = FixAction("flag_set", SAMPLES["flag_set"])
    session = FixSession(load_project(root))
    choices = session.choices([_finding(rename, remove), _finding(epochs)])
    assert [c.id for c in choices] == [1, 2, 3]
    shown: list[int] = []
    asked: list[int] = []

    def confirm(choice, plan, outside):  # noqa: ANN001, ANN202
        asked.append(choice.id)
        return choice.id != 3  # the user says no to the third

    outcomes = list(
        session.apply_each(choices, show=lambda c, p: shown.append(c.id), confirm=confirm)
    )
    assert shown == [1, 3] and asked == [1, 3]  # the alternative (2) is neither shown nor asked
    assert [o.to_json().get("applied") for o in outcomes] == [True, False, False]
    assert outcomes[1].skipped == "alternative" and outcomes[2].skipped is True
    assert "nf = 81" in (root / "dataset.toml").read_text()
    assert session.applied_keys and not any(o.failed for o in outcomes)
    session.undo()
    assert {p: (root / p).read_bytes() for p in before} == before


def test_a_refused_plan_is_an_outcome_not_an_exception(tmp_path: Path) -> None:
    root = _project(tmp_path)
    session = FixSession(load_project(root))
    fix = FixAction("flag_remove", {"step": "latents", "flag": "--x"})
    [choice] = session.choices([_finding(fix)])
    outcome = session.apply(choice, choice.plan)
    assert outcome.failed and outcome.applied is None
    assert outcome.to_json() == {
        "id": 1,
        "applied": False,
        "refused": choice.plan.refused,
        "label": choice.plan.label,
    }


def test_the_dialog_colours_lines_by_kind_not_by_text() -> None:
    from wantui.tui.dialogs.fix_preview import STYLES, preview_text

    lines = [
        PreviewLine("diff-add", "-looks like a removal"),
        PreviewLine("diff-remove", "+looks like an addition"),
        PreviewLine("note", "+ a plain note"),
    ]
    text = preview_text(lines)
    styles = [str(span.style) for span in text.spans]
    assert styles == [STYLES["diff-add"], STYLES["diff-remove"]]  # the note: no colour
