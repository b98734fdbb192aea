"""Guided-setup decisions, headless: checkout discovery, Wan2.2 defaults by VRAM, the TOMLs."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit

from wantui.core.project import load_project, project_to_toml
from wantui.core.setup_defaults import (
    build_project,
    choose_settings,
    dataset_toml,
    find_interpreters,
    find_musubi_checkouts,
    launch_args,
    precision_for,
    task_for,
    train_args,
)


def _checkout(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "wan_train_network.py").write_text("")
    return folder


def test_finds_checkout_in_home_and_parent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    a = _checkout(home / "musubi-tuner")
    work = tmp_path / "proj" / "sub"
    work.mkdir(parents=True)
    assert find_musubi_checkouts(work, home) == [a.resolve()]
    b = _checkout(tmp_path / "proj" / "musubi-tuner")
    found = find_musubi_checkouts(tmp_path / "proj", home)
    assert found == [b.resolve(), a.resolve()]


def test_no_checkout(tmp_path: Path) -> None:
    assert find_musubi_checkouts(tmp_path, tmp_path / "nohome") == []


def test_interpreters_venv_first(tmp_path: Path) -> None:
    co = _checkout(tmp_path / "m")
    py = co / ".venv" / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.write_text("")
    other = tmp_path / "v" / "bin" / "python"
    other.parent.mkdir(parents=True)
    other.write_text("")
    assert find_interpreters(co, {"VIRTUAL_ENV": str(tmp_path / "v")}) == [str(py), str(other)]
    assert find_interpreters(tmp_path, {}) == []


@pytest.mark.parametrize(
    ("dtype", "want"),
    [
        ("torch.bfloat16", "bf16"),
        ("torch.float16", "fp16"),
        ("fp16", "fp16"),
        ("torch.float8_e4m3fn", "bf16"),
        (None, "bf16"),
    ],
)
def test_precision_from_dtype(dtype: str | None, want: str) -> None:
    assert precision_for(dtype) == want


def test_task_from_kind() -> None:
    assert task_for("wan2.2-i2v-low") == "i2v-A14B"
    assert task_for("dit", {"in_dim": 36}) == "i2v-A14B"
    assert task_for("wan2.2-t2v-high") == "t2v-A14B"


def test_h100_two_experts_no_fp8() -> None:
    s = choose_settings(dit_dtype="torch.bfloat16", two_experts=True, vram_gib=80)
    assert (s.fp8_base, s.blocks_to_swap, s.offload_inactive_dit) == (False, 0, False)
    assert s.mixed_precision == "bf16" and s.optimizer == "adamw8bit"


def test_48gb_two_experts_fp8() -> None:
    s = choose_settings(dit_dtype="torch.float16", two_experts=True, vram_gib=48)
    assert s.fp8_base and s.fp8_scaled and s.blocks_to_swap == 0 and not s.offload_inactive_dit
    assert s.mixed_precision == "fp16"


def test_32gb_two_experts_offload() -> None:
    s = choose_settings(dit_dtype="torch.bfloat16", two_experts=True, vram_gib=32)
    assert s.offload_inactive_dit and s.blocks_to_swap == 0


def test_24gb_swaps_blocks_never_with_offload() -> None:
    s = choose_settings(dit_dtype="torch.bfloat16", two_experts=True, vram_gib=24)
    assert s.fp8_base and 0 < s.blocks_to_swap <= 39 and not s.offload_inactive_dit
    tiny = choose_settings(dit_dtype="torch.bfloat16", vram_gib=8)
    assert tiny.blocks_to_swap == 39


def test_fp8_file_is_not_scaled_again() -> None:
    s = choose_settings(dit_dtype="torch.float8_e4m3fn", vram_gib=80)
    assert s.fp8_base and not s.fp8_scaled


def test_no_bitsandbytes_uses_adamw_and_no_gpu_is_said() -> None:
    s = choose_settings(dit_dtype="torch.bfloat16", bitsandbytes_ok=False, vram_gib=None)
    assert s.optimizer == "adamw"
    assert any("no GPU" in r for r in s.reasons)


def test_multi_gpu_linux_and_windows() -> None:
    s = choose_settings(dit_dtype="torch.bfloat16", vram_gib=80, gpu_count=4, windows=False)
    la = launch_args(s)
    assert la[0] == "--multi_gpu" and la[la.index("--num_processes") + 1] == "4"
    assert la[la.index("--dynamo_backend") + 1] == "no"
    w = choose_settings(dit_dtype="torch.bfloat16", vram_gib=80, gpu_count=4, windows=True)
    assert w.num_processes == 1 and "--multi_gpu" not in launch_args(w)
    assert any("WSL2" in r and "libuv" in r for r in w.reasons)
    # data-parallel asked for on Windows still gives one process
    w2 = choose_settings(
        dit_dtype="torch.bfloat16", vram_gib=80, gpu_count=4, windows=True, data_parallel=True
    )
    assert w2.num_processes == 1


def test_data_parallel_can_be_turned_off() -> None:
    s = choose_settings(
        dit_dtype="torch.bfloat16", vram_gib=80, gpu_count=8, windows=False, data_parallel=False
    )
    la = launch_args(s)
    assert s.num_processes == 1 and "--multi_gpu" not in la
    assert la[la.index("--num_processes") + 1] == "1"
    assert any("data-parallel is off" in r for r in s.reasons)
    one = choose_settings(dit_dtype="torch.bfloat16", vram_gib=80, gpu_count=1, windows=False)
    assert one.num_processes == 1 and not any("GPUs" in r for r in one.reasons)


def test_train_args_have_the_essentials() -> None:
    s = choose_settings(dit_dtype="torch.bfloat16", vram_gib=24, output_name="me")
    a = train_args(s, dit="low.safetensors", dit_high_noise="high.safetensors")
    for flag in ("--sdpa", "--gradient_checkpointing", "--fp8_base", "--blocks_to_swap"):
        assert flag in a
    assert a[a.index("--output_name") + 1] == "me"
    assert a[a.index("--task") + 1] == "t2v-A14B"
    assert a[a.index("--mixed_precision") + 1] == "bf16"


def test_dataset_toml_is_valid_and_4n1() -> None:
    text = dataset_toml("data\\videos")
    data = tomlkit.parse(text).unwrap()
    ds = data["datasets"][0]
    assert ds["video_directory"] == "data/videos"
    assert ds["cache_directory"] != ds["video_directory"]
    assert all((f - 1) % 4 == 0 for f in ds["target_frames"])
    assert data["general"]["caption_extension"] == ".txt"
    img = tomlkit.parse(dataset_toml("imgs", images=True)).unwrap()["datasets"][0]
    assert "image_directory" in img and "target_frames" not in img


def test_project_round_trip(tmp_path: Path) -> None:
    s = choose_settings(dit_dtype="torch.bfloat16", vram_gib=12)
    p = build_project(
        tmp_path,
        musubi_dir="/opt/musubi",
        python="/opt/musubi/.venv/bin/python",
        dataset_config="dataset.toml",
        vae="m/vae.safetensors",
        t5="m/t5.pth",
        dit="m/low.safetensors",
        dit_high_noise=None,
        settings=s,
        vram_gib=12,
    )
    (tmp_path / "wantui.toml").write_text(project_to_toml(p))
    back = load_project(tmp_path)
    assert back.steps["train"].launcher == "accelerate"
    assert back.steps["train"].args == p.steps["train"].args
    assert "--fp8_t5" in back.steps["te"].args
    argv = back.argv("train")
    assert "accelerate.commands.launch" in argv and "--dataset_config" in argv


def _info(path: str, kind: str, dtype: str = "bf16", **details: object):  # noqa: ANN202
    from wantui.core.models import ModelInfo

    return ModelInfo(path, kind, dtype, details=dict(details))


def test_assign_models_by_header() -> None:
    from wantui.core.setup_defaults import assign_models

    infos = [
        _info(
            "m/wan2.2_t2v_high_noise_14B_fp16.safetensors",
            "wan-dit",
            "fp16",
            params="14B",
            wan_version="2.2",
            family="t2v",
        ),
        _info(
            "m/wan2.2_t2v_low_noise_14B_fp16.safetensors",
            "wan-dit",
            "fp16",
            params="14B",
            wan_version="2.2",
            family="t2v",
        ),
        _info("m/wan_2.1_vae.safetensors", "wan-vae", version="2.1", layout="wan"),
        _info("m/umt5_xxl_fp16.safetensors", "t5", "fp16", layout="hf-umt5"),
    ]
    c = assign_models(infos)
    assert "low_noise" in c.dit.path and "high_noise" in c.dit_high_noise.path
    assert c.vae is not None and c.t5 is None
    assert c.missing == {"t5": "t5"}
    assert any("hf-umt5" in p for p in c.problems)


def test_assign_models_nothing_found() -> None:
    from wantui.core.setup_defaults import assign_models

    c = assign_models([])
    assert c.missing == {"dit": "wan2.2-t2v-low", "vae": "vae-safetensors", "t5": "t5"}
