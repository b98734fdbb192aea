"""``wantui check``: exit codes 0/1/2, JSON shape, and the three modes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli_helpers import one_line_error, run_wantui
from wantui.cli.main import main
from wantui.core.dataset.mp4 import write_test_mp4

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "configs"


def test_dataset_config_mode_json(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(FIX)
    assert main(["check", "--json", "--dataset-config", str(FIX / "many_problems.toml")]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == str(FIX / "many_problems.toml")
    rules = [f["rule"] for f in out["findings"]]
    assert "toml-extra-key" in rules and "frame-extraction-invalid" in rules
    f = out["findings"][0]
    assert f["origin"] == "check" and f["location"]["line"] and f["severity"] == "error"


def test_valid_dataset_exits_zero(tmp_path, capsys, monkeypatch):
    (tmp_path / "videos").mkdir()
    write_test_mp4(tmp_path / "videos" / "a.mp4", 40)
    (tmp_path / "videos" / "a.txt").write_text("x")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "b.png").write_bytes(b"")
    (tmp_path / "images" / "b.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--dataset-config", str(FIX / "valid_video.toml")]) == 0
    assert "No problems found." in capsys.readouterr().out


def test_unreadable_dataset_config_exits_two(tmp_path, capsys):
    assert main(["check", "--dataset-config", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.toml" in err
    assert main(["check", "--dataset-config", str(tmp_path)]) == 2


def test_command_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "check",
                "--json",
                "--",
                "python",
                "wan_train_network.py",
                "--timestep_boundary",
                "0.875",
            ]
        )
        == 1
    )
    out = json.loads(capsys.readouterr().out)
    catalogs = {f["catalog"] for f in out["findings"]}
    assert {
        "invalid-argument-value",
        "missing-attention-flag",
        "missing-optimizer",
        "script-not-found",
    } <= catalogs
    assert main(["check", "--", "ls", "-la"]) == 2


def test_project_mode_and_usage_errors(tmp_path, capsys):
    assert main(["check", "--project", str(tmp_path)]) == 2  # no wantui.toml
    (tmp_path / "wantui.toml").write_text(
        '[project]\ndataset_config = "d.toml"\n[steps.train]\nargs = ["--sdpa"]\n'
    )
    assert main(["check", "--project", str(tmp_path), "--steps", "bogus"]) == 2
    assert main(["check", "--project", str(tmp_path)]) == 1
    assert "Dataset config not found" in capsys.readouterr().out
    assert main(["check", "--project", str(tmp_path), "--", "python", "x.py"]) == 2


def test_real_process_never_prints_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe[[datasets]\x00")
    res = run_wantui("check", "--dataset-config", str(bad))
    assert res.returncode == 2 and "Traceback" not in res.stderr and str(bad) in res.stderr


# -- hostile input files, run as a user would (real subprocesses, real files): a FIFO or
# /dev/zero that hung the CLI, a duplicate key that crashed with exit 3, look-alike
# characters, file names that are not UTF-8.


# -- files that are not regular files ------------------------------------------------------


def test_dataset_config_fifo_and_device_do_not_hang(tmp_path: Path, wantui_cli) -> None:
    os.mkfifo(tmp_path / "fifo.toml")
    one_line_error(
        wantui_cli("check", "--dataset-config", "fifo.toml", cwd=tmp_path, timeout=30),
        2,
        "fifo.toml",
        "FIFO",
    )
    one_line_error(
        wantui_cli("check", "--dataset-config", "/dev/zero", cwd=tmp_path, timeout=30),
        2,
        "/dev/zero",
        "device",
    )


def test_project_file_fifo_device_and_dangling_link(tmp_path: Path, wantui_cli) -> None:
    proj = tmp_path / "wantui.toml"
    os.mkfifo(proj)
    for cmd in (["check"], ["export", "--sh", "-"]):
        one_line_error(wantui_cli(*cmd, cwd=tmp_path, timeout=30), 2, "wantui.toml", "FIFO")
    proj.unlink()
    proj.symlink_to("/dev/zero")
    one_line_error(wantui_cli("check", cwd=tmp_path, timeout=30), 2, "wantui.toml", "device")
    proj.unlink()
    proj.symlink_to("nowhere.toml")
    one_line_error(wantui_cli("check", cwd=tmp_path, timeout=30), 2, "wantui.toml", "not found")


# -- TOML shapes ---------------------------------------------------------------------------


def test_duplicate_key_in_project_file_is_a_usage_error_with_its_line(
    tmp_path: Path, wantui_cli
) -> None:
    (tmp_path / "wantui.toml").write_text('[project]\nname = "a"\nname = "b"\n')
    for cmd in (["check"], ["fix"], ["export", "--sh", "-"]):
        proc = wantui_cli(*cmd, cwd=tmp_path)
        one_line_error(proc, 2, "wantui.toml:3:", "`name`")


def test_duplicate_key_in_dataset_config_has_its_line(tmp_path: Path, wantui_cli) -> None:
    (tmp_path / "dup.toml").write_text(
        '[general]\nresolution = [960, 544]\n[[datasets]]\nvideo_directory = "a"\n'
        '[[datasets]]\nvideo_directory = "b"\n"video_directory" = "c"\n'
    )
    proc = wantui_cli("check", "--dataset-config", "dup.toml", "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    (f,) = json.loads(proc.stdout)["findings"]
    assert f["rule"] == "toml-parse-error"
    assert f["location"]["line"] == 7
    assert "video_directory" in f["message"] and ".." not in f["message"]


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "binary", "loop", "dangling"])
def test_project_dataset_config_that_cannot_be_read_is_a_finding(
    tmp_path: Path, kind: str, wantui_cli
) -> None:
    ds = tmp_path / "ds.toml"
    if kind == "fifo":
        os.mkfifo(ds)
    elif kind == "device":
        ds.symlink_to("/dev/zero")
    elif kind == "folder":
        ds.mkdir()
    elif kind == "binary":
        ds.write_bytes(b"\x00\x01\x02" * 30)
    elif kind == "loop":
        ds.symlink_to("ds.toml")
    else:
        ds.symlink_to("gone.toml")
    (tmp_path / "wantui.toml").write_text(
        '[project]\ndataset_config = "ds.toml"\n[steps.train]\nargs = ["--dit", "x", "--sdpa"]\n'
    )
    proc = wantui_cli("check", "--json", cwd=tmp_path, timeout=30)
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)["findings"]
    about = [f for f in found if (f.get("location") or {}).get("path", "").endswith("ds.toml")]
    assert about and all(f["severity"] == "error" for f in about)
    if kind == "loop":
        assert "it loops" in about[0]["message"]
    if kind == "dangling":
        assert "`gone.toml` is missing" in about[0]["message"]
    fix = wantui_cli("fix", cwd=tmp_path, timeout=30)
    assert fix.returncode == 1 and "Traceback" not in fix.stderr, fix.stderr


# -- the dataset TOML shapes users paste, through `wantui check --dataset-config` -----------


@pytest.mark.parametrize(
    ("name", "content", "code", "needle"),
    [
        ("empty.toml", b"", 1, "No [[datasets]] entry"),
        ("binary.toml", bytes(range(256)) * 4, 2, "binary file"),
        ("huge.toml", b"# x\n" * (1024 * 1024 + 1), 2, "too large"),
        ("latin1.toml", "# caf\u00e9\n".encode("latin-1"), 2, "not UTF-8"),
        (
            "tabs.toml",
            "[general]\n\tresolution\t=\t[960, 544]\t# 解像度\n\tcaption_extension = '.txt'\n"
            "[[datasets]]\n# 日本語のコメント\n\tvideo_directory = 'ビデオ'\n"
            "\tcache_directory = 'キャッシュ'\n\ttarget_frames = [1, 17]\n".encode(),
            0,
            "",
        ),
    ],
)
def test_messy_dataset_configs(
    tmp_path: Path, name: str, content: bytes, code: int, needle: str, wantui_cli
) -> None:
    (tmp_path / "ビデオ").mkdir()
    (tmp_path / "ビデオ" / "a.mp4").write_bytes(b"")
    (tmp_path / "ビデオ" / "a.txt").write_text("a cat", encoding="utf-8")
    (tmp_path / name).write_bytes(content)
    proc = wantui_cli("check", "--dataset-config", name, cwd=tmp_path)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    if code == 2:
        one_line_error(proc, 2, name, needle)
    else:
        assert needle in proc.stdout


def test_dataset_config_symlink_loop_alone(tmp_path: Path, wantui_cli) -> None:
    (tmp_path / "a.toml").symlink_to("b.toml")
    (tmp_path / "b.toml").symlink_to("a.toml")
    one_line_error(wantui_cli("check", "--dataset-config", "a.toml", cwd=tmp_path), 2, "a.toml")


@pytest.mark.parametrize(
    ("line", "char"),
    [
        ("caption_extension = \u201c.txt\u201d", "U+201C"),
        ("resolution\u3000= [960, 544]", "U+3000"),
        ("resolution = [960\uff0c 544]", "U+FF0C"),
    ],
    ids=["curly-quotes", "ideographic-space", "fullwidth-comma"],
)
def test_lookalike_characters_in_a_dataset_toml_are_named(
    tmp_path: Path, line: str, char: str, wantui_cli
) -> None:
    (tmp_path / "d.toml").write_text(f"[general]\n{line}\n", encoding="utf-8")
    proc = wantui_cli("check", "--dataset-config", "d.toml", "--json", cwd=tmp_path)
    (f,) = json.loads(proc.stdout)["findings"]
    assert f["rule"] == "toml-parse-error" and f["location"]["line"] == 2
    assert any(char in a and "Line 2" in a for a in f["advice"]), f["advice"]


def test_undecodable_file_names_and_an_ascii_console(tmp_path: Path, wantui_cli) -> None:
    """A clip whose name is not UTF-8 made `check --json` write invalid UTF-8 (so `fix
    --findings` could not read it back), and a Japanese path on an ASCII/cp1252 console
    was a UnicodeEncodeError, exit 3."""
    v = tmp_path / "v"
    v.mkdir()
    for name in (b"\xff\xfe.mp4", "ビデオ 1.mp4".encode(), b"ok.mp4"):
        open(bytes(v) + b"/" + name, "wb").close()
    (v / "ok.txt").write_text("a cat")
    (tmp_path / "d.toml").write_text(
        '[general]\nresolution = [960, 544]\ncaption_extension = ".txt"\n'
        '[[datasets]]\nvideo_directory = "v"\ncache_directory = "c"\ntarget_frames = [1]\n'
    )
    proc = wantui_cli("check", "--dataset-config", "d.toml", "--json", cwd=tmp_path, text=False)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout.decode("utf-8"))  # valid UTF-8 now
    assert any("caption" in f["title"] for f in data["findings"])
    (tmp_path / "f.json").write_bytes(proc.stdout)
    assert wantui_cli("fix", "--findings", "f.json", cwd=tmp_path).returncode == 1
    ascii_env = {"PYTHONIOENCODING": "ascii"}
    proc = wantui_cli("check", "--dataset-config", "d.toml", cwd=tmp_path, env=ascii_env)
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr and "\\u30d3" in proc.stdout


def test_media_and_jsonl_that_are_fifos_do_not_hang_the_scan(tmp_path: Path, wantui_cli) -> None:
    """The frame counter opened a FIFO named clip.mp4 and waited for a writer forever;
    so did the JSONL reader."""
    v = tmp_path / "v"
    v.mkdir()
    os.mkfifo(v / "a.mp4")
    (v / "a.txt").write_text("a cat")
    (v / "z.mp4").symlink_to("/dev/zero")
    (v / "z.txt").write_text("zero")
    os.mkfifo(tmp_path / "items.jsonl")
    (tmp_path / "d.toml").write_text(
        '[general]\nresolution = [960, 544]\ncaption_extension = ".txt"\n'
        '[[datasets]]\nvideo_directory = "v"\ncache_directory = "c"\ntarget_frames = [1, 17]\n'
        '[[datasets]]\nvideo_jsonl_file = "items.jsonl"\ncache_directory = "c2"\n'
    )
    proc = wantui_cli("check", "--dataset-config", "d.toml", "--json", cwd=tmp_path, timeout=30)
    assert proc.returncode in (0, 1), proc.stderr
    titles = [f["title"] for f in json.loads(proc.stdout)["findings"]]
    assert any("clip lengths unknown" in t for t in titles), titles
