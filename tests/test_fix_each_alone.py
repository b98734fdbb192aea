"""Every dataset fix applied alone leaves the file better (issue 9 item 14).

For each broken fixture and each automatic fix the checks offer, a fresh copy gets that
one fix and nothing else; the finding it was offered for must then be gone, and no error
finding of the same kind may appear that was not there before. A repair only right whole (set
``target_frames = [33]`` *and* remove ``num_frames``) must therefore be one fix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from wantui.core.dataset import check_dataset_config
from wantui.core.finding import Finding, Severity
from wantui.core.fixes import Journal, apply_plan, plan_fix

CONFIGS = Path(__file__).resolve().parent.parent / "fixtures" / "configs"
BROKEN = sorted(
    p.name
    for p in CONFIGS.glob("*.toml")
    if not p.name.endswith(".fixed.toml") and p.name != "valid_video.toml"
)


def ident(f: Finding) -> tuple:
    return (f.rule, f.title, tuple(sorted(f.captures.items())))


def offered(name: str) -> list[tuple[int, int]]:
    """(finding index, fix index) of every automatic dataset fix of a fixture."""
    found = check_dataset_config(CONFIGS / name, CONFIGS)
    return [
        (i, j)
        for i, f in enumerate(found)
        for j, a in enumerate(f.fixes)
        if a.auto and a.action.startswith("toml_")
    ]


CASES = [(name, i, j) for name in BROKEN for i, j in offered(name)]


def test_the_fixtures_offer_fixes():
    assert {"num_frames_int.toml", "width_height.toml", "windows_paths_invalid.toml"} <= {
        c[0] for c in CASES
    }
    assert len(CASES) >= 20


@pytest.mark.parametrize(("name", "finding", "fix"), CASES)
def test_each_fix_alone_removes_its_finding(tmp_path: Path, name: str, finding: int, fix: int):
    work = tmp_path / name
    shutil.copyfile(CONFIGS / name, work)
    before = check_dataset_config(work, tmp_path)
    target = before[finding]
    action = target.fixes[fix]
    plan = plan_fix(action, None, dataset_config=work, finding=target)
    assert plan.refused is None, (action.label, plan.refused)
    apply_plan(plan, Journal(tmp_path))
    after = check_dataset_config(work, tmp_path)
    still = [f for f in after if ident(f) == ident(target)]
    assert not still, f"after `{action.label}` alone: {target.title} is still reported"
    # nor broken anew for the same reason (a fix may uncover another problem: renaming
    # `path` to `video_directory` can reveal a cache folder shared with another entry)
    old_errors = {ident(f) for f in before if f.severity is Severity.ERROR}
    same_reason = [
        f.title
        for f in after
        if f.severity is Severity.ERROR
        and ident(f) not in old_errors
        and f.catalog == target.catalog
    ]
    assert not same_reason, f"after `{action.label}` alone: {same_reason}"


def test_each_fix_of_a_flag_that_belongs_in_the_dataset_toml_alone_is_complete(
    tmp_path: Path,
) -> None:
    """`--resolution 960 544` on the training line (issue 10 follow-up): the check
    offered two fixes in two files, and the first applied alone (set the TOML's
    resolution) left `--resolution` there, so argparse still rejected the command. Each
    fix offered now, applied alone to a fresh project, leaves the command accepted."""
    import sys

    from wantui.core.args.command import check_project
    from wantui.core.project import load_project

    sys.path.insert(0, str(Path(__file__).parent))
    from fakes.fakeproject import make_project

    def fresh(i: int) -> object:
        project = make_project(tmp_path / f"p{i}")
        text = (project.file).read_text()
        old = '"--mixed_precision", "bf16"'
        project.file.write_text(text.replace(old, f'{old}, "--resolution", "960", "544"'))
        return load_project(project.root)

    def rejected(project: object) -> list[str]:
        return [
            f.title
            for f in check_project(project)  # type: ignore[arg-type]
            if f.rule == "unknown-argument" and "--resolution" in f.title
        ]

    first = fresh(0)
    (finding,) = [
        f
        for f in check_project(first)
        if f.rule == "unknown-argument"  # type: ignore[arg-type]
    ]
    assert finding.fixes
    for j, action in enumerate(finding.fixes):
        project = fresh(j + 1)
        (again,) = [f for f in check_project(project) if f.rule == "unknown-argument"]  # type: ignore[arg-type]
        plan = plan_fix(again.fixes[j], project, finding=again)  # type: ignore[arg-type]
        assert plan.refused is None, (action.label, plan.refused)
        apply_plan(plan, Journal(project.root))  # type: ignore[attr-defined]
        after = load_project(project.root)  # type: ignore[attr-defined]
        assert not rejected(after), f"after `{action.label}` alone the command is still rejected"
    # the value the user meant is not lost: it moved to the dataset TOML
    assert "resolution = [960, 544]" in (project.root / "dataset.toml").read_text()  # type: ignore[attr-defined]
    # and one undo puts both files back
    from wantui.core.fixes import undo_last

    undo_last(Journal(project.root))  # type: ignore[attr-defined]
    assert rejected(load_project(project.root))  # type: ignore[attr-defined]
    assert "[960, 544]" not in (project.root / "dataset.toml").read_text()  # type: ignore[attr-defined]
