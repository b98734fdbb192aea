"""The caching steps delete cache files no current item maps to (unless --keep_cache):
wantui predicts which, names them, and offers --keep_cache before the run."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.fakeproject import make_project
from wantui.core.dataset.cache_loss import doomed_caches
from wantui.core.dataset.load import load_dataset_config
from wantui.core.finding import Severity
from wantui.core.preflight import preflight
from wantui.core.project import load_project, project_to_toml

LATENTS = ("clip1_00000-013_0096x0064_wan.safetensors", "clip1_00000-001_0096x0064_wan.safetensors")


def _caches(root: Path, stems: tuple[str, ...] = ("clip1", "clip2")) -> Path:
    cache = root / "cache" / "vid"
    cache.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        for frames in ("001", "013"):
            (cache / f"{stem}_00000-{frames}_0096x0064_wan.safetensors").write_bytes(b"x")
        (cache / f"{stem}_wan_te.safetensors").write_bytes(b"x")
    return cache


def _loss(findings: list) -> dict[str, object]:
    return {f.steps[0]: f for f in findings if f.rule == "cache-files-deleted"}


def test_an_empty_video_folder_would_delete_every_cache_and_names_them(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (tmp_path / "data" / "vid").mkdir(parents=True)  # the clips were moved away
    cache = _caches(tmp_path)
    loss = _loss(preflight(project))
    assert set(loss) == {"latents", "te"}
    lat = loss["latents"]
    assert lat.severity is Severity.WARNING and lat.captures["count"] == "4"
    assert "all 4" in lat.message and str(cache) in lat.message
    for name in LATENTS:
        assert name in lat.message
    assert "clip2_wan_te.safetensors" in loss["te"].message
    fix = lat.fixes[0]
    assert (fix.action, fix.params) == ("flag_add", {"step": "latents", "flag": "--keep_cache"})


def test_keep_cache_or_a_step_not_run_means_no_warning(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (tmp_path / "data" / "vid").mkdir(parents=True)
    _caches(tmp_path)
    assert set(_loss(preflight(project, steps=["train"]))) == set()
    assert set(_loss(preflight(project, steps=["te", "train"]))) == {"te"}
    project.steps["latents"].args.append("--keep_cache")
    (tmp_path / "wantui.toml").write_text(project_to_toml(project))
    assert set(_loss(preflight(load_project(tmp_path)))) == {"te"}


def test_healthy_caches_are_not_doomed(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    vids = tmp_path / "data" / "vid"
    vids.mkdir(parents=True)
    for stem in ("clip1", "clip2"):
        (vids / f"{stem}.mp4").write_bytes(b"\0" * 64)
        (vids / f"{stem}.txt").write_text("a cat")
    _caches(tmp_path)
    assert _loss(preflight(project)) == {}


def test_changed_target_frames_and_a_removed_clip_are_exact(tmp_path: Path) -> None:
    make_project(tmp_path)
    vids = tmp_path / "data" / "vid"
    vids.mkdir(parents=True)
    (vids / "clip1.mp4").write_bytes(b"\0" * 64)  # clip2 was removed
    _caches(tmp_path)
    toml = tmp_path / "dataset.toml"
    toml.write_text(toml.read_text().replace("target_frames = [1, 13]", "target_frames = [1, 17]"))
    [d] = doomed_caches(load_dataset_config(toml), tmp_path)
    # 13 frames is no longer cut; clip2 has no media; clip1's 1-frame cache stays
    assert d.latents == [
        "clip1_00000-013_0096x0064_wan.safetensors",
        "clip2_00000-001_0096x0064_wan.safetensors",
        "clip2_00000-013_0096x0064_wan.safetensors",
    ]
    assert d.te == ["clip2_wan_te.safetensors"]
    assert (d.total_latents, d.total_te) == (4, 2)


def test_two_datasets_sharing_a_cache_folder_delete_each_others(tmp_path: Path) -> None:
    for sub, stem in (("a", "cat"), ("b", "dog")):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / f"{stem}.png").write_bytes(b"\x89PNG")
        (tmp_path / sub / f"{stem}.txt").write_text("x")
    cache = tmp_path / "cache"
    cache.mkdir()
    for stem in ("cat", "dog"):
        (cache / f"{stem}_0512x0512_wan.safetensors").write_bytes(b"x")
    (cache / ".hidden_0512x0512_wan.safetensors").write_bytes(b"x")  # glob('*') skips it
    toml = tmp_path / "dataset.toml"
    toml.write_text(
        '[general]\nresolution = [512, 512]\ncaption_extension = ".txt"\n'
        '[[datasets]]\nimage_directory = "a"\ncache_directory = "cache"\n'
        '[[datasets]]\nimage_directory = "b"\ncache_directory = "cache"\n'
    )
    a, b = doomed_caches(load_dataset_config(toml), tmp_path)
    assert a.latents == ["dog_0512x0512_wan.safetensors"]
    assert b.latents == ["cat_0512x0512_wan.safetensors"]


def test_an_image_without_a_caption_loses_its_cache(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "cat.png").write_bytes(b"\x89PNG")  # no cat.txt: musubi drops it
    (tmp_path / "img" / "cat_0512x0512_wan.safetensors").write_bytes(b"x")
    toml = tmp_path / "dataset.toml"
    toml.write_text(
        '[general]\nresolution = [512, 512]\ncaption_extension = ".txt"\n'
        '[[datasets]]\nimage_directory = "img"\n'
    )
    [d] = doomed_caches(load_dataset_config(toml), tmp_path)
    assert d.latents == ["cat_0512x0512_wan.safetensors"]
