"""Dataset scan: what musubi-tuner will pick up, captions, clip lengths and cache files."""

from __future__ import annotations

import struct
from pathlib import Path

from wantui.core.dataset import load_dataset_config
from wantui.core.dataset.mp4 import mp4_frame_count, write_test_mp4
from wantui.core.dataset.scan import _latent_stem, scan_datasets, scan_findings


def make(tmp_path: Path, toml: str) -> Path:
    p = tmp_path / "dataset.toml"
    p.write_text(toml, encoding="utf-8")
    return p


def rules(findings):
    return {f.rule for f in findings}


def test_extensions_lower_and_upper_only_dot_files_skipped(tmp_path):
    v = tmp_path / "videos"
    v.mkdir()
    for name in ("a.mp4", "b.MP4", "c.Mp4", "d.gif", ".hidden.mp4", "e.mov"):
        (v / name).write_bytes(b"")
    (v / "sub.mp4").mkdir()  # a folder named like a clip is not a clip
    cfg = load_dataset_config(
        make(
            tmp_path,
            '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "videos"\n',
        )
    )
    (scan,) = scan_datasets(cfg, tmp_path)
    assert scan.media == ["a.mp4", "b.MP4", "e.mov"]
    assert scan.ignored == ["c.Mp4"]


def test_paths_resolve_from_cwd_not_toml_folder(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"")
    cfg = load_dataset_config(
        make(
            tmp_path / "conf",
            '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "videos"\n',
        )
    )
    assert scan_datasets(cfg, tmp_path)[0].media == ["a.mp4"]
    found = scan_findings(cfg, tmp_path / "conf")
    (f,) = [f for f in found if f.rule == "dataset-directory-missing"]
    assert f.catalog == "dataset-empty"
    assert str(tmp_path / "conf" / "videos") in f.message


def test_empty_dataset_lists_ignored_files(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "clip.MoV").write_bytes(b"")
    cfg = load_dataset_config(
        make(
            tmp_path, '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "v"\n'
        )
    )
    (f,) = scan_findings(cfg, tmp_path)
    assert f.rule == "dataset-empty" and "clip.MoV" in f.message and f.severity.value == "error"


def test_captions_videos_error_images_warning(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "i").mkdir()
    for n in ("a.mp4", "b.mp4", "a.txt"):
        (tmp_path / "v" / n).write_bytes(b"")
    for n in ("x.png", "y.jpg", "x.txt"):
        (tmp_path / "i" / n).write_bytes(b"")
    cfg = load_dataset_config(make(tmp_path, '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "v"\n'
                                   '[[datasets]]\nimage_directory = "i"\n'))  # fmt: skip
    found = [f for f in scan_findings(cfg, tmp_path) if f.rule == "caption-missing"]
    assert [(f.severity.value, f.captures["count"]) for f in found] == [
        ("error", "1"),
        ("warning", "1"),
    ]
    assert "b.mp4" in found[0].message and "y.jpg" in found[1].message


def test_mp4_frame_count_and_short_clips(tmp_path):
    (tmp_path / "v").mkdir()
    write_test_mp4(tmp_path / "v" / "long.mp4", 81, mdat_bytes=4096)
    write_test_mp4(tmp_path / "v" / "short.mp4", 20)
    (tmp_path / "v" / "other.webm").write_bytes(b"\x1aE\xdf\xa3")
    for n in ("long", "short", "other"):
        (tmp_path / "v" / f"{n}.txt").write_text("c")
    assert mp4_frame_count(tmp_path / "v" / "long.mp4") == 81
    assert mp4_frame_count(tmp_path / "v" / "other.webm") is None
    cfg = load_dataset_config(make(tmp_path, '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "v"\n'
                                   "target_frames = [1, 21, 81]\n"))  # fmt: skip
    (scan,) = scan_datasets(cfg, tmp_path)
    assert scan.short == {21: ["short.mp4"], 81: ["short.mp4"]}
    assert scan.frame_counts["other.webm"] is None
    short = [f for f in scan_findings(cfg, tmp_path) if f.rule == "clips-shorter-than-target"]
    assert [f.captures["target"] for f in short] == ["21", "81"]
    assert short[0].location.line == 5


def test_mp4_stts_fallback_and_damaged_files(tmp_path):
    p = tmp_path / "a.mp4"
    write_test_mp4(p, 33)
    data = bytearray(p.read_bytes())
    i = data.find(b"stsz")
    data[i + 8 : i + 16] = struct.pack(">II", 0, 0)  # no sample count in stsz: use stts
    p.write_bytes(bytes(data))
    assert mp4_frame_count(p) == 33
    for junk in (b"", b"\x00\x00\x00\x01moov", b"\xff" * 64, data[: len(data) // 2]):
        q = tmp_path / "j.mp4"
        q.write_bytes(bytes(junk))
        assert mp4_frame_count(q) in (None, 33)


def test_latent_stem_parsing():
    assert _latent_stem("my_clip_00000-017_0832x0480_wan.safetensors") == ("my_clip", True)
    assert _latent_stem("img_1_0096x0064_wan.safetensors") == ("img_1", False)
    assert _latent_stem("a_wan_te.safetensors") is None
    assert _latent_stem("a_hv.safetensors") is None


def test_cache_counting_for_training(tmp_path):
    v = tmp_path / "v"
    v.mkdir()
    (tmp_path / "cache").mkdir()
    for n in ("a", "b", "c"):
        (v / f"{n}.mp4").write_bytes(b"")
        (v / f"{n}.txt").write_text("x")
    for name in (
        "a_00000-017_0832x0480_wan.safetensors",
        "a_wan_te.safetensors",
        "b_00000-017_0832x0480_wan.safetensors",
    ):
        (tmp_path / "cache" / name).write_bytes(b"")
    cfg = load_dataset_config(make(tmp_path, '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "v"\n'
                                   'cache_directory = "cache"\n'))  # fmt: skip
    (scan,) = scan_datasets(cfg, tmp_path, step="train")
    assert (scan.latent_caches, scan.te_caches, scan.missing_te) == (2, 1, ["b"])
    found = {f.rule: f for f in scan_findings(cfg, tmp_path, step="train")}
    assert found["te-cache-missing"].fixes[0].params == {"step": "te"}
    assert "c" in found["latent-cache-incomplete"].message
    assert "cache-missing" not in found
    assert rules(scan_findings(cfg, tmp_path)) == set()  # caches are counted only for training


def test_no_cache_at_all_predicts_no_training_items(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"")
    (tmp_path / "v" / "a.txt").write_text("x")
    cfg = load_dataset_config(
        make(
            tmp_path, '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "v"\n'
        )
    )
    (f,) = [f for f in scan_findings(cfg, tmp_path, step="train") if f.rule == "cache-missing"]
    assert f.severity.value == "error" and "No training items" in f.message
    assert [a.params["step"] for a in f.fixes] == ["latents", "te"]


def test_jsonl_datasets(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"")
    (tmp_path / "list.jsonl").write_text(
        '{"video_path": "v/a.mp4", "caption": "a cat"}\n'
        '{"video_path": "v/missing.mp4", "caption": "x"}\n'
        '{"video_path": "v/a.mp4"}\n'
        "\n"
        "not json\n"
    )
    cfg = load_dataset_config(
        make(tmp_path, '[[datasets]]\nvideo_jsonl_file = "list.jsonl"\ncache_directory = "c"\n')
    )
    found = {f.rule: f for f in scan_findings(cfg, tmp_path)}
    assert (
        found["dataset-jsonl-invalid"].location.line == 4
        and "1 more" in found["dataset-jsonl-invalid"].message
    )
    assert found["caption-missing"].catalog == "caption-missing"
    assert "v/missing.mp4" in found["dataset-media-missing"].message
    cfg = load_dataset_config(
        make(tmp_path, '[[datasets]]\nimage_jsonl_file = "none.jsonl"\ncache_directory = "c"\n')
    )
    assert [f.rule for f in scan_findings(cfg, tmp_path)] == ["dataset-jsonl-missing"]
