"""An empty or missing video folder: what would help, not "run caching again" (issue 9
item 15). The resolved path, the files seen there, the nearest folder holding videos (a
bounded search), and a fix that points the dataset at it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.cli_helpers import run_wantui
from wantui.core.args.command import dataset_findings
from wantui.core.dataset import nearby
from wantui.core.dataset.mp4 import write_test_mp4
from wantui.core.dataset.nearby import nearest_media_folder
from wantui.core.fixes import Journal, apply_plan, plan_fix

VIDEOS = frozenset({".mp4", ".MP4"})
TOML = '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "{d}"\n'


def _videos(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_test_mp4(folder / f"c{i}.mp4", 17)
        (folder / f"c{i}.txt").write_text("x\n")


def test_empty_folder_names_the_files_seen_and_the_nearest_folder_and_fixes_it(tmp_path):
    (tmp_path / "data" / "clips_empty").mkdir(parents=True)
    (tmp_path / "data" / "clips_empty" / "a.gif").write_bytes(b"")
    (tmp_path / "data" / "clips_empty" / "notes.md").write_text("")
    _videos(tmp_path / "data" / "my_clips", 3)
    ds = tmp_path / "dataset.toml"
    ds.write_text(TOML.format(d="data/clips_empty"))
    (f,) = [x for x in dataset_findings(ds, tmp_path) if x.rule == "dataset-empty"]
    assert str(tmp_path / "data" / "clips_empty") in f.message  # the resolved path
    assert "holds 2 files (.gif 1, .md 1)" in f.message  # what is there
    assert f"`{tmp_path / 'data' / 'my_clips'}` (3 videos)" in f.message  # where they are
    assert "changes nothing" in f.message
    (fix,) = f.fixes
    assert fix.label == 'Set video_directory = "data/my_clips" (3 videos there)'
    plan = plan_fix(fix, None, dataset_config=ds, finding=f)
    apply_plan(plan, Journal(tmp_path))
    assert not [x for x in dataset_findings(ds, tmp_path) if x.catalog == "dataset-empty"]


def test_missing_folder_points_at_the_parent_that_holds_the_videos(tmp_path):
    _videos(tmp_path / "clips", 2)
    ds = tmp_path / "dataset.toml"
    ds.write_text(TOML.format(d="clips/train"))
    (f,) = [x for x in dataset_findings(ds, tmp_path) if x.rule == "dataset-directory-missing"]
    assert f.fixes[0].label == 'Set video_directory = "clips" (2 videos there)'


def test_train_step_cache_finding_offers_no_rerun_for_an_empty_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    ds = tmp_path / "dataset.toml"
    ds.write_text(TOML.format(d="empty"))
    found = dataset_findings(ds, tmp_path, scan_step="train")
    (cache,) = [x for x in found if x.rule == "cache-missing"]
    assert cache.consequence_of == "dataset-empty"
    assert not [a for a in cache.fixes if a.action == "rerun_step"]


def test_search_is_bounded_and_follows_no_symlink(tmp_path, monkeypatch):
    start = tmp_path / "a" / "missing"
    (tmp_path / "a").mkdir()
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a loop: never followed
    os.symlink(tmp_path / "elsewhere", tmp_path / "a" / "link")
    _videos(tmp_path / "elsewhere", 1)  # reachable only through the link, or from the root
    deep = tmp_path / "a"
    for i in range(30):  # many folders: the cap stops the walk
        (deep / f"d{i}" / "x").mkdir(parents=True)
    monkeypatch.setattr(nearby, "MAX_DIRS", 10)
    t = time.monotonic()
    assert nearest_media_folder(start, VIDEOS) is None  # the budget ran out first
    assert time.monotonic() - t < 5
    monkeypatch.setattr(nearby, "MAX_DIRS", 400)
    found = nearest_media_folder(start, VIDEOS)
    assert found is not None and found.path == tmp_path / "elsewhere"  # via the parent


def test_fix_for_a_log_offers_the_folder_not_caching_again(tmp_path):
    (tmp_path / "clips").mkdir()
    _videos(tmp_path / "videos", 2)
    (tmp_path / "dataset.toml").write_text(TOML.format(d="clips"))
    (tmp_path / "wantui.toml").write_text(
        '[project]\nname = "x"\ndataset_config = "dataset.toml"\n\n[steps.train]\n'
        'script = "wan_train_network.py"\nargs = ["--task", "t2v-14B"]\n'
    )
    log = tmp_path / "train.log"
    log.write_text(
        "INFO:musubi_tuner.dataset.image_video_dataset:found 0 videos\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "ValueError: No training items found in the dataset\n"
    )
    r = run_wantui("fix", "--log", str(log), "--json", cwd=tmp_path, timeout=120)
    labels = [f["label"] for f in json.loads(r.stdout)["fixes"]]
    assert labels == ['Set video_directory = "videos" (2 videos there)'], r.stdout


def test_caching_again_is_moot_while_the_dataset_is_empty(tmp_path):
    """Wherever a rerun fix comes from (a log rule, the app), it is not offered while no
    dataset has a file to cache: it would change nothing."""
    from wantui.core.fixactions import FixAction
    from wantui.core.project import load_project

    (tmp_path / "clips").mkdir()
    (tmp_path / "dataset.toml").write_text(TOML.format(d="clips"))
    (tmp_path / "wantui.toml").write_text(
        '[project]\nname = "x"\ndataset_config = "dataset.toml"\n\n[steps.latents]\n'
        'script = "wan_cache_latents.py"\nargs = ["--vae", "v.safetensors"]\n'
    )
    rerun = FixAction("rerun_step", {"step": "latents"}, label="Run latent caching again")
    plan = plan_fix(rerun, load_project(tmp_path))
    assert plan.moot and "nothing to cache" in plan.refused
    _videos(tmp_path / "clips", 1)
    plan = plan_fix(rerun, load_project(tmp_path))
    assert plan.refused is None and plan.rerun == "latents"
