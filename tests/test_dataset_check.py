"""Dataset TOML checks: every problem at once, with positions, catalog ids and fixes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wantui.core.dataset import check_dataset_config, load_dataset_config
from wantui.core.dataset.check import voluptuous_path
from wantui.core.dataset.positions import scan_positions
from wantui.core.dataset.schema import round_target_frames
from wantui.core.errors import WantuiError
from wantui.core.fixactions import validate_action

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "configs"


def write(tmp_path: Path, text: str, name: str = "dataset.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def by_rule(findings, rule):
    return [f for f in findings if f.rule == rule]


def fix_tuples(f):
    return [(a.action, a.params) for a in f.fixes]


def test_valid_config_has_no_schema_findings(tmp_path):
    assert check_dataset_config(FIX / "valid_video.toml", tmp_path) == []


def test_many_problems_reported_together_with_positions():
    findings = check_dataset_config(FIX / "many_problems.toml", FIX)
    got = {(f.rule, f.location.line) for f in findings}
    assert ("toml-key-wrong-section", 5) in got  # cache_directory in [general]
    assert ("toml-extra-key", 6) in got  # train_batch_size
    assert ("toml-extra-key", 9) in got  # path
    assert ("toml-extra-key", 10) in got  # num_frames
    assert ("frame-extraction-invalid", 11) in got
    assert ("toml-invalid-value", 12) in got  # source_fps = 30
    assert ("toml-invalid-value", 16) in got  # target_frames = 17
    assert ("toml-key-wrong-kind", 17) in got  # image_directory in a video entry
    assert all(f.origin == "check" for f in findings)
    for f in findings:
        for a in f.fixes:
            assert validate_action(a.action, a.params) is None
            if "file" in a.params:
                assert a.params["file"] == "dataset_config"


def test_did_you_mean_renames():
    findings = check_dataset_config(FIX / "many_problems.toml", FIX)
    renames = {
        (a.params["key"], a.params["new_key"])
        for f in findings
        for a in f.fixes
        if a.action == "toml_rename_key"
    }
    assert ("num_frames", "target_frames") in renames
    assert ("path", "video_directory") in renames
    assert ("train_batch_size", "batch_size") in renames


def test_type_conversions_are_toml_literals():
    findings = check_dataset_config(FIX / "many_problems.toml", FIX)
    sets = {(a.params["table"], a.params["key"]): a.params["value"] for f in findings for a in f.fixes
            if a.action == "toml_set_key"}  # fmt: skip
    assert sets[("datasets[0]", "source_fps")] == "30.0"
    assert sets[("datasets[1]", "target_frames")] == "[17]"
    assert sets[("datasets[0]", "frame_extraction")] == '"head"'


def test_voluptuous_message_quoted(tmp_path):
    p = write(
        tmp_path,
        '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "v"\nwidth = 3\n',
    )
    (f,) = by_rule(check_dataset_config(p, tmp_path), "toml-extra-key")
    assert "extra keys not allowed @ data['datasets'][0]['width']" in f.message
    assert voluptuous_path("general", "x") == "data['general']['x']"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('batch_size = "1"', ("batch_size", "1")),
        ('enable_bucket = "true"', ("enable_bucket", "true")),
        ("resolution = [96, 64, 3]", ("resolution", "[96, 64]")),
        ("num_repeats = 2.0", ("num_repeats", "2")),
    ],
)
def test_general_types(tmp_path, line, expected):
    p = write(
        tmp_path,
        f'[general]\ncaption_extension = ".txt"\n{line}\n[[datasets]]\nvideo_directory = "v"\n',
    )
    (f,) = by_rule(check_dataset_config(p, tmp_path), "toml-invalid-value")
    assert f.location.line == 3
    assert (f.fixes[0].params["key"], f.fixes[0].params["value"]) == expected


def test_bool_passes_int_like_voluptuous(tmp_path):
    # voluptuous checks isinstance(value, int), and a bool is an int
    p = write(
        tmp_path,
        '[general]\ncaption_extension = ".txt"\nbatch_size = true\n[[datasets]]\nvideo_directory = "v"\n',
    )
    assert check_dataset_config(p, tmp_path) == []


def test_target_frames_rounding(tmp_path):
    p = write(tmp_path, '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "v"\n'
              "target_frames = [1, 16, 30]\n")  # fmt: skip
    (f,) = by_rule(check_dataset_config(p, tmp_path), "target-frames-rounded")
    assert f.severity.value == "warning"
    assert f.fixes[0].params["value"] == "[1, 13, 29]"
    assert f.location.line == 5
    assert round_target_frames([1, 16]) == [1, 13]
    assert round_target_frames([17, 17, 33]) == [17, 33]


def test_target_frames_not_positive(tmp_path):
    p = write(
        tmp_path,
        '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "v"\ntarget_frames = [0, 17]\n',
    )
    (f,) = by_rule(check_dataset_config(p, tmp_path), "target-frames-not-positive")
    assert f.fixes[0].params["value"] == "[17]"


def test_cache_directory_in_general_moves_to_single_dataset(tmp_path):
    p = write(
        tmp_path,
        '[general]\ncaption_extension = ".txt"\ncache_directory = "c"\n[[datasets]]\nvideo_directory = "v"\n',
    )
    (f,) = by_rule(check_dataset_config(p, tmp_path), "toml-key-wrong-section")
    assert fix_tuples(f)[0] == (
        "toml_move_key",
        {
            "file": "dataset_config",
            "table": "general",
            "key": "cache_directory",
            "to_table": "datasets[0]",
        },
    )


def test_video_key_in_general_copied_to_every_dataset(tmp_path):
    p = write(tmp_path, '[general]\ncaption_extension = ".txt"\ntarget_frames = [1, 17]\n'
              '[[datasets]]\nvideo_directory = "a"\n[[datasets]]\nvideo_directory = "b"\n')  # fmt: skip
    (f,) = by_rule(check_dataset_config(p, tmp_path), "toml-key-wrong-section")
    # one fix, one plan: the copies and the removal together (issue 9 item 14)
    (fix,) = f.fixes
    assert fix.action == "toml_edits"
    assert [(e["action"], e["table"]) for e in fix.params["edits"]] == [
        ("toml_set_key", "datasets[0]"),
        ("toml_set_key", "datasets[1]"),
        ("toml_remove_key", "general"),
    ]


def test_cache_dir_shared_default_is_media_dir():
    findings = check_dataset_config(FIX / "shared_cache.toml", FIX)
    (f,) = by_rule(findings, "dataset-cache-dir-shared")
    assert "#2" in f.title and "#1" in f.title
    assert f.fixes[0].params == {
        "file": "dataset_config", "table": "datasets[1]", "key": "cache_directory", "value": '"./clips_cache"'
    }  # fmt: skip


def test_cache_dir_shared_explicit(tmp_path):
    p = write(tmp_path, '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "a"\ncache_directory = "c"\n'
              '[[datasets]]\nimage_directory = "b"\ncache_directory = "./c"\n')  # fmt: skip
    (f,) = by_rule(check_dataset_config(p, tmp_path), "dataset-cache-dir-shared")
    assert f.location.line == 8


def test_frame_extraction_choices(tmp_path):
    p = write(
        tmp_path,
        '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "v"\nframe_extraction = "slid"\n',
    )
    (f,) = by_rule(check_dataset_config(p, tmp_path), "frame-extraction-invalid")
    assert f.fixes[0].params["value"] == '"slide"'
    assert "frame_extraction slid is not supported" in f.message


def test_no_source_and_no_datasets(tmp_path):
    p = write(tmp_path, '[general]\ncaption_extension = ".txt"\n[[datasets]]\nnum_repeats = 2\n')
    assert by_rule(check_dataset_config(p, tmp_path), "dataset-no-source")
    p = write(tmp_path, '[general]\ncaption_extension = ".txt"\n')
    (f,) = by_rule(check_dataset_config(p, tmp_path), "dataset-no-source")
    assert "No [[datasets]]" in f.title


def test_caption_extension_unset_and_no_dot(tmp_path):
    p = write(tmp_path, '[general]\nbatch_size = 1\n[[datasets]]\nvideo_directory = "v"\n')
    (f,) = by_rule(check_dataset_config(p, tmp_path), "caption-extension-unset")
    assert f.catalog == "caption-missing"
    assert f.fixes[0].params == {
        "file": "dataset_config",
        "table": "general",
        "key": "caption_extension",
        "value": '".txt"',
    }
    p = write(
        tmp_path, '[general]\ncaption_extension = "txt"\n[[datasets]]\nvideo_directory = "v"\n'
    )
    (f,) = by_rule(check_dataset_config(p, tmp_path), "caption-extension-no-dot")
    assert f.fixes[0].params["value"] == '".txt"'


def test_jsonl_needs_cache_directory(tmp_path):
    p = write(tmp_path, '[[datasets]]\nvideo_jsonl_file = "v.jsonl"\n')
    assert by_rule(check_dataset_config(p, tmp_path), "dataset-jsonl-no-cache-dir")


def test_top_level_extra_table(tmp_path):
    p = write(
        tmp_path,
        '[genral]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "v"\ncaption_extension = ".txt"\n',
    )
    (f,) = by_rule(check_dataset_config(p, tmp_path), "toml-extra-key")
    assert f.captures["suggestion"] == "general"
    assert f.location.line == 1


def test_windows_backslash_silently_changed():
    (f,) = check_dataset_config(FIX / "windows_paths.toml", FIX)
    assert f.rule == "toml-windows-backslash"
    assert (f.location.line, f.location.column) == (8, 19)
    assert "\\t" in f.message and "\\n" in f.message
    assert f.fixes[0].action == "toml_fix_windows_paths"
    assert f.fixes[0].label == 'Write the path with forward slashes: "C:/temp/new"'
    assert f.fixes[0].auto


def test_windows_backslash_parse_error_names_cause():
    findings = check_dataset_config(FIX / "windows_paths_invalid.toml", FIX)
    assert findings[0].rule == "toml-windows-backslash"
    assert findings[0].catalog == "toml-parse-error"
    assert findings[0].location.line == 6
    assert "Reserved escape sequence" in findings[0].message
    # issue 9 item 13: automatic although tomlkit cannot edit a file that does not parse
    assert findings[0].fixes[0].auto


def test_windows_backslash_fix_repairs_a_file_that_does_not_parse(tmp_path):
    """Issue 9 item 13: the fix rewrites the strings as text, keeping comments; the file
    then parses, and a file with two such paths is repaired by one fix."""
    from wantui.core.fixes import Journal, apply_plan, plan_fix

    p = write(tmp_path, '# mine\n[general]\ncaption_extension = ".txt"\n[[datasets]]\n'
              'video_directory = "D:\\datasets\\vid"  # clips\ncache_directory = "D:\\c\\tmp"\n')  # fmt: skip
    found = by_rule(check_dataset_config(p, tmp_path), "toml-windows-backslash")
    assert len(found) == 2 and {f.fixes[0].label for f in found} == {
        "Write the 2 Windows paths with forward slashes"
    }
    plan = plan_fix(found[0].fixes[0], None, dataset_config=p, finding=found[0])
    assert plan.refused is None, plan.refused
    apply_plan(plan, Journal(tmp_path))
    assert p.read_text() == (
        '# mine\n[general]\ncaption_extension = ".txt"\n[[datasets]]\n'
        'video_directory = "D:/datasets/vid"  # clips\ncache_directory = "D:/c/tmp"\n'
    )
    assert not by_rule(check_dataset_config(p, tmp_path), "toml-windows-backslash")
    assert not by_rule(check_dataset_config(p, tmp_path), "toml-parse-error")


def test_escaped_backslashes_and_literal_strings_are_fine(tmp_path):
    p = write(tmp_path, '[general]\ncaption_extension = ".txt"\n[[datasets]]\nvideo_directory = "C:\\\\data\\\\v"\n'
              "cache_directory = 'C:\\temp\\c'\n")  # fmt: skip
    assert check_dataset_config(p, tmp_path) == []


def test_parse_error_has_line_and_column(tmp_path):
    p = write(tmp_path, '[general]\ncaption_extension = ".txt"\nbatch_size = = 1\n')
    (f,) = check_dataset_config(p, tmp_path)
    assert f.rule == "toml-parse-error"
    assert f.location.line == 3 and f.location.column >= 1
    with pytest.raises(WantuiError) as err:
        load_dataset_config(p)
    assert err.value.line == 3 and "TOML syntax error" in err.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("dir", "is a directory"),
        (b"\x00\x01binary", "binary"),
        (b'caption_extension = "\xff\xfe"', "not UTF-8"),
    ],
)
def test_unreadable_inputs_are_one_line_errors(tmp_path, content, message):
    p = tmp_path / "d.toml"
    if content == "dir":
        p.mkdir()
    elif content is not None:
        p.write_bytes(content)
    with pytest.raises(WantuiError) as err:
        check_dataset_config(p, tmp_path)
    assert message in str(err.value)
    assert str(p) in str(err.value)


def test_huge_file_refused(tmp_path):
    p = tmp_path / "d.toml"
    p.write_bytes(b"# x\n" * (2 * 1024 * 1024))
    with pytest.raises(WantuiError, match="too large"):
        check_dataset_config(p, tmp_path)


def test_empty_file_is_no_datasets(tmp_path):
    p = write(tmp_path, "")
    (f,) = check_dataset_config(p, tmp_path)
    assert f.rule == "dataset-no-source"


def test_json_config(tmp_path):
    p = write(
        tmp_path,
        json.dumps({"general": {"caption_extension": ".txt"}, "datasets": [{"path": "v"}]}),
        "d.json",
    )
    assert by_rule(check_dataset_config(p, tmp_path), "toml-extra-key")
    p = write(tmp_path, "{bad json", "e.json")
    (f,) = check_dataset_config(p, tmp_path)
    assert f.rule == "toml-parse-error" and f.location.line == 1


def test_positions_survive_comments_quotes_inline_tables_and_dotted_keys():
    text = (
        "# top\n"
        "[general]  # comment with = and [brackets]\n"
        'caption_extension = "#.txt"  # a # in a string\n'
        '"batch_size" = 2\n'
        "multi = '''\n[[datasets]]\nnot = a header\n'''\n"
        "[[datasets]]\n"
        "target_frames = [\n  1, # one\n  17,\n]\n"
        "a.b.c = 1\n"
        "[[datasets]]\n"
        "   video_directory = 'v'\n"
    )
    pos = scan_positions(text)
    assert pos.key("general", "caption_extension").line == 3
    assert pos.key("general", "batch_size").line == 4
    assert pos.table("datasets[0]").line == 9
    assert pos.key("datasets[0]", "target_frames").line == 10
    assert pos.key("datasets[0]", "a").line == 14
    assert (
        pos.key("datasets[1]", "video_directory").line,
        pos.key("datasets[1]", "video_directory").column,
    ) == (16, 4)
    assert "datasets[2]" not in pos.headers  # the header inside a multi-line string is text
    inline = scan_positions(
        'datasets = [ {video_directory = "v"}, {image_directory = "i", num_frames = 3} ]\n'
    )
    assert inline.key("datasets[1]", "num_frames").column == 63


def test_inline_table_datasets_located(tmp_path):
    # top-level keys come before the first [table]
    p = write(
        tmp_path,
        'datasets = [ {video_directory = "v", num_frames = [17]} ]\n\n[general]\ncaption_extension = ".txt"\n',
    )
    (f,) = by_rule(check_dataset_config(p, tmp_path), "toml-extra-key")
    assert (f.location.line, f.location.column) == (1, 38)
