"""Values checked the way musubi-tuner uses them (issue 17): zero/negative bounds from the
semantic map, key=value items, dataset ranges. Each case is a value the sweep
(scripts/sweep.py) broke against the real musubi-tuner."""

from __future__ import annotations

import pytest
from test_check_catalog_rows import GOOD_TOML, TRAIN, build, without

from wantui.core.args import check_project
from wantui.core.finding import Severity


def errors(findings, rule: str) -> list:
    return [f for f in findings if f.rule == rule and f.severity == Severity.ERROR]


@pytest.mark.parametrize(
    ("flag", "value", "source"),
    [
        ("--gradient_accumulation_steps", "0", "training/trainer_base.py:"),
        ("--max_train_steps", "0", "training/trainer_base.py:"),
        ("--max_train_epochs", "0", "training/trainer_base.py:1641"),
        ("--save_every_n_steps", "0", "training/trainer_base.py:2092"),
        ("--save_every_n_epochs", "-1", "training/trainer_base.py:2143"),
    ],
)
def test_option_musubi_divides_or_loops_by_must_be_positive(tmp_path, flag, value, source):
    project = build(tmp_path, train=[*TRAIN, flag, value])
    found = errors(check_project(project), "option-not-positive")
    assert [f.captures["flag"] for f in found] == [flag]
    assert source in found[0].message
    assert found[0].fixes[0].params["flag"] == flag


def test_positive_bounds_and_unbounded_options_pass(tmp_path):
    # 0 is fine where musubi does not divide or loop by it (workers, seed)
    args = [
        *TRAIN,
        "--gradient_accumulation_steps",
        "2",
        "--max_data_loader_n_workers",
        "0",
        "--seed",
        "0",
    ]
    assert errors(check_project(build(tmp_path, train=args)), "option-not-positive") == []


@pytest.mark.parametrize("item", ["loraplus_lr_ratio", "a=b=c", "=4"])
def test_key_value_items_must_split_once(tmp_path, item):
    project = build(tmp_path, train=[*TRAIN, "--network_args", "verbose=True", item])
    found = errors(check_project(project), "key-value-arg-malformed")
    assert len(found) == 1 and found[0].captures["value"] == item
    assert "trainer_base.py:1563" in found[0].message


def test_well_formed_key_values_pass(tmp_path):
    args = [*TRAIN, "--optimizer_args", "weight_decay=0.01", "betas=(0.9,0.99)"]
    assert errors(check_project(build(tmp_path, train=args)), "key-value-arg-malformed") == []


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("batch_size = 0", "batch_size"),
        ("num_repeats = 0", "num_repeats"),
        ("num_repeats = -2", "num_repeats"),
        ("resolution = [480, 0]", "resolution"),
    ],
)
def test_dataset_values_musubi_loops_or_divides_by(tmp_path, line, key):
    toml = GOOD_TOML.replace("[general]\n", f"[general]\n{line}\n").replace(
        "batch_size = 1\n", "" if key == "batch_size" else "batch_size = 1\n"
    )
    toml = toml.replace("resolution = [480, 272]\n", "") if key == "resolution" else toml
    found = errors(check_project(build(tmp_path, toml=toml)), "dataset-value-not-positive")
    assert [f.captures["key"] for f in found] == [key]
    assert "musubi-tuner dataset/" in found[0].message
    assert found[0].location.line == 2


@pytest.mark.parametrize(
    "lines", ['frame_extraction = "slide"\nframe_stride = 0', "max_frames = 0", "source_fps = 0.0"]
)
def test_per_dataset_ranges(tmp_path, lines):
    toml = GOOD_TOML.replace('frame_extraction = "head"\n', "") + lines + "\n"
    found = errors(check_project(build(tmp_path, toml=toml)), "dataset-value-not-positive")
    assert len(found) == 1


def test_healthy_dataset_has_no_range_errors(tmp_path):
    assert errors(check_project(build(tmp_path)), "dataset-value-not-positive") == []


def test_empty_target_frames(tmp_path):
    toml = GOOD_TOML.replace("target_frames = [1, 17]", "target_frames = []")
    found = errors(check_project(build(tmp_path, toml=toml)), "target-frames-empty")
    assert len(found) == 1 and found[0].fixes[0].params["value"] == "[1]"


def _train_errors(tmp_path, extra: list[str], rule: str) -> list:
    return errors(check_project(build(tmp_path, train=[*TRAIN, *extra])), rule)


def test_resume_folder_must_hold_a_state(tmp_path):
    assert _train_errors(tmp_path, ["--resume", "output/none-state"], "resume-state-missing")
    state = tmp_path / "output" / "lora-state"
    state.mkdir(parents=True)
    (state / "random_states_0.pkl").write_bytes(b"x")
    found = _train_errors(tmp_path, ["--resume", "output/lora-state"], "resume-state-missing")
    assert found and "no saved state" in found[0].message
    (state / "optimizer.bin").write_bytes(b"x")
    (state / "model.safetensors").write_bytes(b"x")
    assert not _train_errors(tmp_path, ["--resume", "output/lora-state"], "resume-state-missing")


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("p.md", "a cat\n", "UnboundLocalError"),
        ("p.json", '[\n{"prompt": "a"},\n{prompt: b}\n]', "line 3"),
        ("p.json", '{"prompt": "a"}', "not a list"),
        ("p.toml", "[prompt]\nwidth = 256\n", "[[prompt.subset]]"),
    ],
)
def test_sample_prompts_must_parse(tmp_path, name, text, says):
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text, encoding="utf-8")
    found = _train_errors(tmp_path, ["--sample_prompts", name], "sample-prompts-unreadable")
    assert len(found) == 1 and says in found[0].message


def test_good_prompt_files_pass(tmp_path):
    (tmp_path / "p.json").write_text('[{"prompt": "a cat"}]', encoding="utf-8")
    (tmp_path / "p.txt").write_text("a cat --w 256\n", encoding="utf-8")
    for name in ("p.json", "p.txt"):
        assert not _train_errors(tmp_path, ["--sample_prompts", name], "sample-prompts-unreadable")


def test_network_weights_rank_against_network_dim(tmp_path):
    import modelfactory as mf

    (tmp_path / "output").mkdir()
    mf.write_safetensors(
        tmp_path / "output" / "old.safetensors",
        {"lora_unet_blocks_0_self_attn_q.lora_down.weight": ("F32", (8, 1536)),
         "lora_unet_blocks_0_self_attn_q.lora_up.weight": ("F32", (1536, 8))},
    )  # fmt: skip
    found = _train_errors(
        tmp_path, ["--network_weights", "output/old.safetensors"], "network-weights-rank-mismatch"
    )
    assert len(found) == 1 and "rank 8" in found[0].title and "16" in found[0].title
    train = [*without(TRAIN, "--network_dim"), "--network_dim", "8"]
    train += ["--network_weights", "output/old.safetensors"]
    found = errors(check_project(build(tmp_path, train=train)), "network-weights-rank-mismatch")
    assert found == []


def test_folder_paths_that_are_files(tmp_path):
    toml = GOOD_TOML.replace(
        'cache_directory = "cache/videos"', 'cache_directory = "videos/clip1.txt"'
    )
    found = errors(check_project(build(tmp_path, toml=toml)), "cache-dir-is-file")
    assert len(found) == 1 and found[0].location.line == 9  # the cache_directory line
    train = [*without(TRAIN, "--output_dir"), "--output_dir", "dataset.toml"]
    assert errors(check_project(build(tmp_path, train=train)), "output-dir-is-file")


def test_network_dim_zero(tmp_path):
    train = [*without(TRAIN, "--network_dim"), "--network_dim", "0"]
    assert errors(check_project(build(tmp_path, train=train)), "network-dim-not-positive")
