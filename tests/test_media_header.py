"""Media headers read before launch (issue 17): a web page saved as .mp4, an empty file, an
MP4 cut short, data of no image format; healthy files and FIFOs pass (and never hang)."""

from __future__ import annotations

import os

import pytest
from test_check_catalog_rows import build

from wantui.core.args import check_project
from wantui.core.dataset.media_header import media_problem
from wantui.core.dataset.mp4 import has_moov, write_test_mp4


def test_healthy_mp4_and_images_pass(tmp_path):
    write_test_mp4(tmp_path / "a.mp4", 9)
    assert has_moov(tmp_path / "a.mp4") and media_problem(tmp_path / "a.mp4") is None
    (tmp_path / "p.jpg").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # PIL reads by content
    assert media_problem(tmp_path / "p.jpg") is None


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("page.mp4", b"\n<!DOCTYPE html><html><body>Sign in</body></html>", "HTML"),
        ("text.png", b"not an image at all, just words", "not image data"),
        ("mkv.mp4", b"\x1a\x45\xdf\xa3" + b"\0" * 60, "matroska"),
    ],
)
def test_undecodable_media_named(tmp_path, name, data, says):
    (tmp_path / name).write_bytes(data)
    assert says in (media_problem(tmp_path / name) or "")


def test_mp4_cut_short_has_no_moov(tmp_path):
    write_test_mp4(tmp_path / "a.mp4", 9, mdat_bytes=4096)
    data = (tmp_path / "a.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:200])
    assert "moov" in (media_problem(tmp_path / "cut.mp4") or "")


def test_empty_placeholder_is_left_alone(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert media_problem(tmp_path / "empty.mp4") is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_never_hangs(tmp_path):
    os.mkfifo(tmp_path / "clip.mp4")
    assert media_problem(tmp_path / "clip.mp4") is None
    assert has_moov(tmp_path / "clip.mp4") is False


def test_project_check_reports_a_web_page_saved_as_video(tmp_path):
    project = build(tmp_path)
    (tmp_path / "videos" / "clip1.mp4").write_bytes(b"<html><body>403 Forbidden</body></html>")
    found = [f for f in check_project(project) if f.rule == "media-not-decodable"]
    assert len(found) == 1 and found[0].captures["file"] == "clip1.mp4"
    assert "HTML" in found[0].message
