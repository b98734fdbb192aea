"""Argument checks that mirror argparse (prefixes, types, choices, switches) and musubi-tuner."""

from __future__ import annotations

from pathlib import Path

import pytest

from wantui.core.args import SCRIPTS, check_command
from wantui.core.args.catalog import KNOWN_BAD, script_options
from wantui.core.args.check import check_step_args
from wantui.core.fixactions import validate_action


def run(
    step: str, args: list[str], launch: list[str] | None = None, tmp: Path = Path("/nonexistent")
):
    _, found = check_step_args(step, args, cwd=tmp, launch_args=launch)
    for f in found:
        for a in f.fixes:
            assert validate_action(a.action, a.params) is None
    return found


def rules(found) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in found:
        out.setdefault(f.rule, []).append(f)
    return out


def test_catalog_covers_the_three_scripts():
    train = script_options("wan_train_network.py")
    assert train["--blocks_to_swap"].type == "int"
    assert train["--timestep_boundary"].type == "int"
    assert train["--task"].default == "t2v-14B" and "t2v-A14B" in train["--task"].choices
    assert train["--mixed_precision"].choices == ("no", "fp16", "bf16")
    assert train["--optimizer_type"].default == ""
    assert train["--network_args"].nargs == "*"
    assert SCRIPTS["wan_cache_text_encoder_outputs.py"]["--t5"].required
    assert SCRIPTS["wan_cache_latents.py"]["--dataset_config"].required
    assert "--vae_tiling" not in SCRIPTS["wan_cache_latents.py"]
    assert len({s.name for s in train.values()}) > 120


def test_int_types_and_timestep_boundary_fix():
    found = rules(
        run("train", ["--timestep_boundary", "0.875", "--blocks_to_swap", "transformer_blocks"])
    )
    tb, bs = found["invalid-argument-value"]
    assert "invalid int value: '0.875'" in tb.message
    assert tb.fixes[0].params == {"step": "train", "flag": "--timestep_boundary", "value": "875"}
    assert "invalid int value: 'transformer_blocks'" in bs.message and bs.fixes == []


def test_choices_with_fix():
    (f,) = rules(run("train", ["--mixed_precision", "fp32"]))["invalid-argument-value"]
    assert f.fixes[0].params["value"] == "no"
    (f,) = rules(run("train", ["--task", "t2v-A14b"]))["invalid-argument-value"]
    assert f.fixes[0].params["value"] == "t2v-A14B"


def test_store_true_given_a_value():
    (f,) = rules(run("train", ["--sdpa", "true"]))["flag-given-a-value"]
    assert f.fixes[0].action == "flag_set" and f.fixes[0].params["value"] == []
    (f,) = rules(run("train", ["--sdpa=true"]))["flag-given-a-value"]
    assert "ignored explicit argument 'true'" in f.message


def test_prefix_matching_and_ambiguity():
    found = rules(run("train", ["--dit_high", "x", "--fp8"]))
    (abbr,) = found["abbreviated-option"]
    assert abbr.severity.value == "info" and abbr.fixes[0].params["new_flag"] == "--dit_high_noise"
    (amb,) = found["ambiguous-option"]
    assert "could match --fp8_base, --fp8_scaled, --fp8_t5" in amb.message
    assert amb.fixes[0].params["new_flag"] == "--fp8_base"
    # --fp8 is a unique prefix for the TE script (--fp8_t5): argparse accepts it
    assert "ambiguous-option" not in rules(run("te", ["--t5", "t", "--fp8"]))


@pytest.mark.parametrize(
    ("step", "flag", "action", "target"),
    [
        ("train", "--train_batch_size", "toml_set_key", "batch_size"),
        ("latents", "--max_workers", "flag_replace", "--num_workers"),
        ("train", "--max_workers", "flag_replace", "--max_data_loader_n_workers"),
        ("te", "--text_encoder2", "flag_replace", "--t5"),
        ("latents", "--vae_chunk_size", "flag_remove", None),
        ("train", "--v2_2", "flag_replace", "--task"),
        ("train", "--resolution", "toml_set_key", "resolution"),
        ("train", "--attn_mode", "flag_replace", "--sdpa"),
        ("latents", "--output_dir", "flag_remove", None),
    ],
)
def test_known_bad_options_have_real_replacements(step, flag, action, target):
    args = [flag, "2"] if action == "toml_set_key" else [flag]
    (f,) = [f for f in run(step, args) if f.rule == "unknown-argument"]
    fix = f.fixes[0]
    assert fix.action == action
    if action == "toml_set_key":
        assert (fix.params["key"], fix.params["value"]) == (target, "2")
        # one fix: the flag's removal is part of it (applied alone it is complete)
        assert fix.params["also"][0]["action"] == "flag_remove" and len(f.fixes) == 1
    elif action == "flag_replace":
        assert fix.params["new_flag"] == target
    assert flag in KNOWN_BAD


def test_unknown_flag_did_you_mean_and_its_values():
    (f,) = [
        f for f in run("train", ["--network_dimm", "16", "--sdpa"]) if f.rule == "unknown-argument"
    ]
    assert f.fixes[0].params["new_flag"] == "--network_dim"
    assert "unrecognized arguments: --network_dimm 16" in f.message


def test_stray_value_and_extra_values():
    found = rules(run("train", ["loose", "--output_name", "a", "b"]))
    assert len(found["stray-argument"]) == 2


def test_missing_value_and_repeats():
    found = rules(
        run("train", ["--output_name", "--sdpa", "--task", "t2v-14B", "--task", "t2v-A14B"])
    )
    assert found["option-missing-value"] and found["option-repeated"]


def test_required_by_argparse_and_in_practice():
    found = rules(run("latents", []))
    titles = {f.title for f in found["missing-required-argument"]}
    assert titles == {"Missing --dataset_config", "Missing --vae"}


def test_nargs_star_values_are_not_stray():
    found = run(
        "train", ["--network_args", "a=1", "b=2", "--optimizer_args", "weight_decay=0.01", "--sdpa"]
    )
    assert "stray-argument" not in rules(found)


def test_accelerate_flags_checked_separately():
    found = rules(
        run("train", ["--sdpa"], launch=["--num_procesess", "1", "--mixed_precision", "fp32"])
    )
    (unk,) = found["unknown-argument"]
    assert unk.captures["step"] == "launch" and unk.fixes[0].params["new_flag"] == "--num_processes"
    (bad,) = found["invalid-argument-value"]
    assert bad.captures["step"] == "launch"


def test_sage_attn_and_optimizer_names():
    found = rules(run("train", ["--sage_attn", "--optimizer_type", "PagedAdamW8bit"]))
    assert found["sage-attn-training"][0].fixes[0].params["new_flag"] == "--sdpa"
    assert (
        found["unknown-optimizer"][0].fixes[0].params["value"]
        == "bitsandbytes.optim.PagedAdamW8bit"
    )
    ok = rules(run("train", ["--sdpa", "--optimizer_type", "AdamW8BIT"]))
    assert "unknown-optimizer" not in ok
    assert "unknown-optimizer" in rules(run("train", ["--sdpa", "--optimizer_type", "adam"]))


def test_log_with_tensorboard_needs_logging_dir_and_scheduler_warmup():
    found = rules(run("train", ["--log_with", "tensorboard", "--lr_warmup_steps", "100"]))
    assert found["logging-dir-missing"][0].fixes[0].params["flag"] == "--logging_dir"
    assert (
        found["constant-scheduler-with-warmup"][0].fixes[0].params["value"]
        == "constant_with_warmup"
    )


def test_model_files_must_exist(tmp_path):
    found = rules(
        run("train", ["--dit", "missing.safetensors", "--vae", str(tmp_path)], tmp=tmp_path)
    )
    assert {f.catalog for f in found["file-not-found"]} == {"dit-wrong-file"}
    assert {f.catalog for f in found["file-is-directory"]} == {"vae-wrong-file"}


def test_wrong_architecture_and_missing_script(tmp_path):
    found = rules(check_command("python cache_latents.py --vae_tiling", tmp_path))
    assert found["wrong-architecture-script"] and found["script-not-found"]


def test_windows_multi_process_warns(tmp_path):
    found = check_command(
        'accelerate launch --num_processes 2 wan_train_network.py --dataset_config "C:\\d.toml" --sdpa',
        tmp_path,
    )
    (f,) = [f for f in found if f.catalog == "windows-libuv"]
    assert {a.action for a in f.fixes} == {"flag_set", "env_set"}


def test_config_file_values_count_as_given(tmp_path):
    (tmp_path / "train.toml").write_text(
        '[model]\ndit = "d.safetensors"\nsdpa = true\n[opt]\noptimizer_type = "adamw8bit"\n'
        'network_module = "networks.lora_wan"\noutput_dir = "out"\noutput_name = "x"\nmixed_precision = "bf16"\n'
        "dataset_config = 'ds.toml'\ntimestep_boundary = 0.875\n"
    )
    found = rules(run("train", ["--config_file", "train", "--output_name", "cli"], tmp=tmp_path))
    assert set(found) == {"file-not-found"}  # only the DiT file, which is not there
    found = rules(run("train", ["--config_file", "nope.toml"], tmp=tmp_path))
    assert found["config-file-not-found"]
