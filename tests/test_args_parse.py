"""Parsing command lines as users paste them: launchers, prefixes, continuations, Windows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wantui.core.args import check_command, parse_command
from wantui.core.args.parse import split_windows
from wantui.core.errors import WantuiError


def test_accelerate_launch_with_its_flags_and_continuations():
    p = parse_command(
        "accelerate launch --num_cpu_threads_per_process 1 --mixed_precision bf16 \\\n"
        "  wan_train_network.py --task t2v-A14B \\\n  --dataset_config 'my data/d.toml' --sdpa",
        "/w",
    )
    assert (p.step, p.launcher, p.script) == ("train", "accelerate", "wan_train_network.py")
    assert p.launch_args == ["--num_cpu_threads_per_process", "1", "--mixed_precision", "bf16"]
    assert p.args == ["--task", "t2v-A14B", "--dataset_config", "my data/d.toml", "--sdpa"]
    assert p.dataset_config == "my data/d.toml"
    assert p.cwd == Path("/w") and not p.windows


@pytest.mark.parametrize(
    ("cmd", "step", "module", "script"),
    [
        (
            "python -m musubi_tuner.wan_train_network --sdpa",
            "train",
            True,
            "musubi_tuner.wan_train_network",
        ),
        (
            "python3 src/musubi_tuner/wan_cache_latents.py --vae v",
            "latents",
            False,
            "src/musubi_tuner/wan_cache_latents.py",
        ),
        (
            "/venv/bin/python -u wan_cache_text_encoder_outputs.py --t5 t",
            "te",
            False,
            "wan_cache_text_encoder_outputs.py",
        ),
        (
            "python -m accelerate.commands.launch --num_processes=1 wan_train_network.py --sdpa",
            "train",
            False,
            "wan_train_network.py",
        ),
        ("uv run accelerate launch wan_train_network.py", "train", False, "wan_train_network.py"),
        (
            "accelerate launch -m musubi_tuner.wan_train_network --sdpa",
            "train",
            True,
            "musubi_tuner.wan_train_network",
        ),
        ("wan_cache_latents.py --vae v", "latents", False, "wan_cache_latents.py"),
    ],
)
def test_launcher_forms(cmd, step, module, script):
    p = parse_command(cmd, "/w")
    assert (p.step, p.module, p.script) == (step, module, script)


def test_env_cd_and_activate_prefixes():
    p = parse_command(
        "cd /workspace/musubi-tuner && source venv/bin/activate && "
        "CUDA_VISIBLE_DEVICES=0 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True python wan_train_network.py --sdpa",
        "/home",
    )
    assert p.env == {
        "CUDA_VISIBLE_DEVICES": "0",
        "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True",
    }
    assert p.cwd == Path("/workspace/musubi-tuner")
    assert ["source", "venv/bin/activate"] in p.prefix


def test_windows_batch_command_keeps_backslashes():
    text = (
        "call .venv\\Scripts\\activate.bat && set USE_LIBUV=0 && python src\\musubi_tuner\\wan_train_network.py ^\n"
        '  --dataset_config "C:\\My Data\\dataset.toml" ^\n  --dit C:\\models\\wan2.2_t2v_low_noise_14B_fp16.safetensors'
    )
    p = parse_command(text, "C:/w")
    assert p.windows and p.step == "train"
    assert p.script == "src\\musubi_tuner\\wan_train_network.py"
    assert p.dataset_config == "C:\\My Data\\dataset.toml"
    assert p.args[-1] == "C:\\models\\wan2.2_t2v_low_noise_14B_fp16.safetensors"
    assert p.env == {"USE_LIBUV": "0"}
    assert p.prefix == [["call", ".venv\\Scripts\\activate.bat"]]


def test_split_windows_quotes_and_carets():
    assert split_windows('python a.py --x "a b" --y a^&b --z "q\\"x"') == [
        "python",
        "a.py",
        "--x",
        "a b",
        "--y",
        "a&b",
        "--z",
        'q"x',
    ]
    assert split_windows("a&&b") == ["a", "&&", "b"]


def test_argv_list_and_single_string_argv():
    p = parse_command(["python", "wan_train_network.py", "--output_name", "my lora"], "/w")
    assert p.args == ["--output_name", "my lora"]
    p = parse_command(["python wan_train_network.py --sdpa"], "/w")
    assert p.args == ["--sdpa"]


def test_other_architecture_script():
    p = parse_command("python cache_latents.py --vae_tiling", "/w")
    assert p.other_arch and p.step == "latents"


@pytest.mark.parametrize("bad", ["", "ls -la", "accelerate config", "python 'unbalanced"])
def test_unusable_commands_are_wantui_errors(bad):
    with pytest.raises(WantuiError):
        parse_command(bad, "/w")


def test_flag_values_last_wins():
    p = parse_command("python wan_train_network.py --task t2v-14B --task=t2v-A14B", "/w")
    assert p.options.get_all("--task") == ["t2v-A14B"]
    assert p.options.get_all("--sdpa") is None


PIECES = ["python", "accelerate", "launch", "-m", "wan_train_network.py", "--sdpa", "--task", "t2v-A14B", "^\n",
          "\\\n", '"', "'", "&&", "call", "x.bat", "C:\\a b\\c", "--fp8", "=", "--dit", "--network_args", "a=1"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=8), max_size=12))
def test_fuzz_commands_only_raise_wantui_error(pieces):
    text = " ".join(pieces)
    try:
        check_command(text, "/nonexistent-dir")
    except WantuiError:
        pass


@pytest.mark.parametrize(
    "cmd",
    [
        "python wan_train_network.py --sdpa --seed 1 > train.log 2>&1",
        "nohup python wan_train_network.py --sdpa --seed 1 >train.log 2>&1 &",
        "python wan_train_network.py --sdpa --seed 1 2>&1 | tee log.txt",
        "python wan_train_network.py --sdpa --seed 1 >> a.log",
    ],
)
def test_shell_redirections_are_not_arguments(cmd):
    assert parse_command(cmd, "/w").args == ["--sdpa", "--seed", "1"]


def test_a_pasted_script_checks_every_command(tmp_path):
    from wantui.core.args.parse import parse_commands

    bat = (
        "@echo off\r\ncall .venv\\Scripts\\activate.bat\r\nrem latents\r\n"
        "python wan_cache_latents.py --dataset_config d.toml ^\r\n  --vae C:\\m\\v.safetensors --vae_tiling\r\n"
        "if errorlevel 1 exit /b 1\r\npython wan_train_network.py --sdpa\r\npause\r\n"
    )
    cmds = parse_commands(bat, tmp_path)
    assert [c.step for c in cmds] == ["latents", "train"]
    assert cmds[0].args[-1] == "--vae_tiling"
    found = check_command(bat, tmp_path)
    titles = [f.title for f in found]
    assert any(t.startswith("[latents] `--vae_tiling`") for t in titles)
    assert any(t.startswith("[train] No --output_name") for t in titles)
    assert sum(1 for f in found if f.rule == "dataset-config-not-found") == 1  # once per file
