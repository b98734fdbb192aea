"""Malformed state files (issue 10 #13): a journal line nested past Python's recursion
limit, a run.json with fields of the wrong type or nested too deeply. Each is one clear
error or is skipped; undo, attach --list, attach and the TUI keep working."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402

from wantui.core.fixactions import FixAction
from wantui.core.fixes import Journal, apply_plan, plan_fix
from wantui.core.project import load_project
from wantui.core.supervisor import start_run

pytestmark = pytest.mark.timeout(120)
DEEP = "[" * 200_000 + "]" * 200_000


def test_deeply_nested_journal_line_does_not_break_undo(tmp_path: Path, wantui_cli) -> None:
    (tmp_path / "wantui.toml").write_text(
        '[project]\nname = "k"\ndataset_config = "dataset.toml"\n'
    )
    ds = tmp_path / "dataset.toml"
    ds.write_text("[general]\nresolution = [960, 544]\n\n[[datasets]]\nvideo_directory = 'v'\n")
    before = ds.read_bytes()
    action = FixAction(
        "toml_set_key",
        {"file": "dataset_config", "table": "general", "key": "num_repeats", "value": 2},
    )
    apply_plan(plan_fix(action, load_project(tmp_path)), Journal(tmp_path))
    with (tmp_path / ".wantui" / "journal.jsonl").open("a") as fh:
        fh.write(DEEP + "\n")
        fh.write('{"type": "apply", "id": ' + DEEP + "}\n")
    res = wantui_cli("fix", "--undo", cwd=tmp_path, env={"WANTUI_DEBUG": "1"})
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and ds.read_bytes() == before


BAD_RECORDS = {
    "pid-is-text": {"runner_pid": "abc", "status": "running"},
    "steps-not-list": {"steps": {"a": 1}},
    "step-name-list": {"steps": [{"name": ["x"], "argv": []}]},
    "env-values-ints": {"steps": [{"name": "train", "argv": [], "env": {"A": 1}}]},
    "status-number": {"status": 3},
    "pgid-float": {"status": "running", "steps": [{"name": "t", "argv": [], "pgid": 1.5}]},
}


def _write_run(runs: Path, rid: str, data: object) -> None:
    (runs / rid).mkdir(parents=True)
    (runs / rid / "run.json").write_text(data if isinstance(data, str) else json.dumps(data))


@pytest.fixture
def project_with_bad_runs(tmp_path: Path) -> tuple[Path, str]:
    proj = make_project(tmp_path, {"latents": "ok"})
    good = start_run(proj, ["latents"])
    assert good.wait(30).status == "succeeded"
    runs = tmp_path / "runs"
    for i, extra in enumerate(BAD_RECORDS.values()):
        base = {"run_id": f"29990101-00000{i}-000", "project": str(tmp_path), "cwd": "."}
        _write_run(runs, f"29990101-00000{i}-000", {**base, "steps": [], **extra})
    _write_run(runs, "29990102-000000-000", DEEP)
    return tmp_path, good.run_id


def test_attach_list_skips_broken_run_files_and_says_so(project_with_bad_runs, wantui_cli) -> None:
    root, good = project_with_bad_runs
    res = wantui_cli("attach", "--list", cwd=root)
    assert res.returncode == 0, res.stderr
    assert good in res.stdout and "Traceback" not in res.stderr
    assert res.stderr.count("broken run file") == len(BAD_RECORDS) + 1, res.stderr


@pytest.mark.parametrize("rid", ["29990101-000000-000", "29990101-000005-000", "29990102"])
def test_attach_to_a_broken_run_is_one_clear_error(
    project_with_bad_runs, rid: str, wantui_cli
) -> None:
    root, _good = project_with_bad_runs
    res = wantui_cli("attach", rid, cwd=root)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_tui_opens_a_project_with_broken_run_files(project_with_bad_runs) -> None:
    from wantui.cli.tui_cmd import build_app

    root, good = project_with_bad_runs
    app = build_app(root)
    assert good in app.pipeline_title


def test_replay_of_a_broken_run_folder_is_one_clear_error(tmp_path: Path) -> None:
    from wantui.core.errors import WantuiError
    from wantui.tui.sources import replay_plan

    for i, data in enumerate([DEEP, "[1, 2]", '{"steps": [{"name": ["x"]}]}']):
        d = tmp_path / str(i)
        d.mkdir()
        (d / "run.json").write_text(data)
        (d / "train.log").write_text("hello\n")
        try:
            plan = replay_plan(d)
        except WantuiError as exc:
            assert "run record" in str(exc)
        else:
            assert plan.steps and plan.steps[0].returncode is None
