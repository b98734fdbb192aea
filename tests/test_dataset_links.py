"""Root cause first, its consequences linked to it (issue 9 item 12)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import run_wantui
from wantui.core.args.command import dataset_findings
from wantui.core.dataset.mp4 import write_test_mp4
from wantui.core.finding import Severity, sort_findings


def _clips(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        write_test_mp4(folder / f"{name}.mp4", 33)
        (folder / f"{name}.txt").write_text("a cat\n")


def test_caption_extension_without_dot_is_the_cause_of_the_missing_captions(tmp_path):
    _clips(tmp_path / "clips", "clip1", "clip2")
    ds = tmp_path / "dataset.toml"
    ds.write_text(
        '[general]\ncaption_extension = "txt"\n[[datasets]]\nvideo_directory = "clips"\n'
        'target_frames = [17]\n[[datasets]]\nvideo_directory = "clips"\ncache_directory = "c2"\n'
    )
    found = sort_findings(dataset_findings(ds, tmp_path, scan_step=None))
    cause = found[0]
    assert cause.rule == "caption-extension-no-dot"
    assert cause.severity is Severity.ERROR  # as severe as what it causes
    assert [f.rule for f in found].count("caption-extension-no-dot") == 1  # one, for [general]
    symptoms = [f for f in found if f.rule == "caption-missing"]
    assert len(symptoms) == 2
    for s in symptoms:
        assert s.consequence_of == "caption-extension-no-dot"
        assert "clip1.txt" in s.message and "needs its dot" in s.message
        assert 'caption_extension "txt" has no leading dot' in s.message
    assert "It causes" in cause.message


def test_backslash_path_is_the_cause_of_the_missing_folder(tmp_path):
    _clips(tmp_path / "clips" / "train", "a")
    ds = tmp_path / "dataset.toml"
    ds.write_text(
        '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "clips\\train"\n'
    )
    found = sort_findings(dataset_findings(ds, tmp_path, scan_step=None))
    assert found[0].rule == "toml-windows-backslash"
    (missing,) = [f for f in found if f.rule == "dataset-directory-missing"]
    assert missing.consequence_of == "toml-windows-backslash"
    assert "clips<tab>rain" in missing.message and "\t" not in missing.message


def test_check_prints_the_cause_first_and_names_the_link(tmp_path):
    _clips(tmp_path / "clips", "clip1")
    ds = tmp_path / "dataset.toml"
    ds.write_text('[general]\ncaption_extension = "txt"\n[[datasets]]\nvideo_directory = "clips"\n')
    r = run_wantui("check", "--dataset-config", str(ds), "--json", cwd=tmp_path, timeout=120)
    rules = [(f["rule"], f["consequence_of"]) for f in json.loads(r.stdout)["findings"]]
    assert rules == [
        ("caption-extension-no-dot", None),
        ("caption-missing", "caption-extension-no-dot"),
    ]
