"""Architecture awareness: the run's family from script and log; Wan-only rules stay quiet
for other families; shared rules speak neutrally; inspect names non-Wan files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import modelfactory as mf
import pytest

from tests.cli_helpers import run_wantui
from wantui.core import architecture as arch
from wantui.core.logtext import iter_file_lines
from wantui.core.matcher import diagnose_lines
from wantui.core.models import inspect_file
from wantui.core.rules import load_rules

MUSUBI = Path("/work/.mirror/kohya-ss+musubi-tuner/repo")


@pytest.fixture(scope="module")
def rules():
    return load_rules(include_user=False)


def test_script_names() -> None:
    cases = {
        "wan_train_network.py": "wan",
        "src/musubi_tuner/hv_1_5_cache_latents.py": "hunyuan_video_1_5",
        "hv_train_network.py": "hunyuan_video",
        "cache_latents.py": "hunyuan_video",  # the old layout's HunyuanVideo scripts
        "fpack_train_network.py": "framepack",
        "flux_kontext_train_network.py": "flux_kontext",
        "flux_2_cache_latents.py": "flux_2",
        "qwen_image_train_network.py": "qwen_image",
        "zimage_train_network.py": "z_image",
        "C:\\m\\krea2_train_network.py": "krea2",
        "train.py": None,
    }
    for script, want in cases.items():
        assert arch.script_architecture(script) == want, script


def test_every_musubi_training_script_has_an_architecture() -> None:
    if not (MUSUBI / "HEAD").exists() and not (MUSUBI / ".git").exists():
        pytest.skip("musubi-tuner mirror not present")
    out = subprocess.run(
        ["git", "-C", str(MUSUBI), "ls-tree", "-r", "--name-only", "30c658c", "src/musubi_tuner/"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        pytest.skip("commit 30c658c not in the mirror")
    scripts = [
        Path(p).name
        for p in out.stdout.splitlines()
        if p.count("/") == 2 and p.endswith(("_train_network.py", "_cache_latents.py"))
    ]
    assert scripts
    missing = [s for s in scripts if arch.script_architecture(s) is None]
    assert missing == [] or all(s.startswith(("cache_latents",)) for s in missing), missing


def test_log_lines() -> None:
    assert arch.line_architecture("INFO:hunyuan_model.vae:Loading 3D VAE") == "hunyuan_video"
    assert (
        arch.line_architecture("INFO:musubi_tuner.flux_2.flux2_utils:Building AutoEncoder")
        == "flux_2"
    )
    # the shared trainer logs under hv_train_network for every family: says nothing
    assert (
        arch.line_architecture("INFO:musubi_tuner.hv_train_network:preparing accelerator") is None
    )


def test_names_and_suffixes_when_nothing_says() -> None:
    assert arch.name_of("qwen_image") == "Qwen-Image" and arch.cache_suffix("qwen_image") == "qi"
    assert arch.name_of(None) == "this run"  # the templates read "builds for this run"
    assert arch.cache_suffix(None) == "wan"  # an unknown run is taken as Wan


@pytest.mark.parametrize(
    ("frame", "family"),
    [
        (r"C:\Users\me\musubi-tuner\src\musubi_tuner\wan\modules\model.py", "wan"),
        (r"D:\musubi-tuner\wan\modules\t5.py", "wan"),  # the layout before src/
        ("/w/musubi-tuner/src/musubi_tuner/wan/modules/vae.py", "wan"),
        ("/w/musubi-tuner/src/musubi_tuner/flux/flux_models.py", "flux_kontext"),
        (r"D:\mt\src\musubi_tuner\flux\flux_utils.py", "flux_kontext"),
        ("/w/musubi-tuner/src/musubi_tuner/flux_2/flux2_models.py", "flux_2"),
        (r"D:\mt\src\musubi_tuner\qwen_image\qwen_image_model.py", "qwen_image"),
        (r"D:\mt\src\musubi_tuner\zimage\zimage_model.py", "z_image"),
    ],
)
def test_traceback_frames_on_posix_and_windows(frame: str, family: str) -> None:
    line = f'  File "{frame}", line 120, in load_state_dict'
    assert arch.line_architecture(line) == family


def _log(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "run.log"
    p.write_text(text, encoding="utf-8")
    return p


def test_wan_only_rule_is_quiet_for_another_family(tmp_path: Path, rules) -> None:
    # wan_train_network's precision assertion text, seen in a run the log shows is FLUX.2
    body = "AssertionError: DiT weights are in bf16, mixed precision must be bf16 or no\n"
    hv = _log(tmp_path, "INFO:musubi_tuner.flux_2.flux2_utils:Loading DiT\n" + body)
    assert "precision-mismatch" not in {f.rule for f in diagnose_lines(iter_file_lines(hv), rules)}
    wan = _log(tmp_path, body)
    assert "precision-mismatch" in {f.rule for f in diagnose_lines(iter_file_lines(wan), rules)}
    ctx = {"script": "hv_train_network.py"}
    found = diagnose_lines(iter_file_lines(wan), rules, context=ctx)
    assert "precision-mismatch" not in {f.rule for f in found}


def test_shared_rules_name_the_runs_cache_suffix(tmp_path: Path, rules) -> None:
    log = _log(tmp_path, "ValueError: No training items found in the dataset.\n")
    (f,) = [
        x
        for x in diagnose_lines(
            iter_file_lines(log), rules, context={"script": "hv_train_network.py"}
        )
        if x.rule == "cache-missing"
    ]
    assert "*_hv.safetensors" in f.message and "_wan" not in f.message
    (f,) = [x for x in diagnose_lines(iter_file_lines(log), rules) if x.rule == "cache-missing"]
    assert "*_wan.safetensors" in f.message  # unknown family: Wan, wantui's default


def test_a_hunyuan_file_is_not_called_a_wan_file(tmp_path: Path, rules) -> None:
    text = (
        "INFO:__main__:Loading DiT model from models/hunyuan_video_t2v_720p_bf16.safetensors\n"
        "RuntimeError: Error(s) in loading state_dict for HYVideoDiffusionTransformer:\n"
        '        Missing key(s) in state_dict: "img_in.proj.weight"\n'
    )
    found = diagnose_lines(iter_file_lines(_log(tmp_path, text)), rules)
    assert [f.rule for f in found if f.severity.value == "error"][0] == "dit-wrong-keys"
    assert "hunyuan-script-with-wan-files" not in {f.rule for f in found}


def _tensors(keys: dict[str, tuple[int, ...]]) -> dict:
    return {k: ("BF16", shape) for k, shape in keys.items()}


@pytest.mark.parametrize(
    ("keys", "family", "part"),
    [
        (
            {
                "double_blocks.0.img_attn_qkv.weight": (9, 3),
                "txt_in.individual_token_refiner.blocks.0.norm1.weight": (3,),
            },
            "HunyuanVideo",
            "DiT",
        ),
        (
            {
                "double_blocks.0.img_attn.qkv.weight": (9, 3),
                "single_blocks.0.linear1.weight": (3, 3),
                "img_in.weight": (3, 64),
            },
            "FLUX.1 (dev / Kontext)",
            "DiT",
        ),
        (
            {"transformer_blocks.0.img_mod.1.weight": (6, 3), "txt_norm.weight": (3,)},
            "Qwen-Image",
            "DiT",
        ),
        (
            {
                "encoder.down.0.block.0.conv1.weight": (8, 8, 3, 3),
                "decoder.conv_in.weight": (8, 32, 3, 3),
            },
            "FLUX.2",
            "VAE",
        ),
        (
            {
                "encoder.down_blocks.0.resnets.0.conv1.conv.weight": (8, 8, 3, 3, 3),
                "decoder.up_blocks.0.resnets.0.conv1.conv.weight": (8, 8, 3, 3, 3),
            },
            "HunyuanVideo",
            "VAE",
        ),
    ],
)
def test_inspect_names_other_families(tmp_path: Path, keys, family, part) -> None:
    path = mf.write_safetensors(tmp_path / "m.safetensors", _tensors(keys))
    info = inspect_file(path)
    assert info.kind == "other-model", info
    assert (info.details["family"], info.details["part"]) == (family, part)
    assert "not Wan" in info.summary()


def test_inspect_cli_shows_the_family(tmp_path: Path) -> None:
    path = mf.write_safetensors(
        tmp_path / "hv.safetensors",
        _tensors(
            {
                "double_blocks.0.img_attn.qkv.weight": (9, 3),
                "txt_in.individual_token_refiner.x": (3,),
            }
        ),
    )
    out = run_wantui("inspect", str(path))
    assert "HunyuanVideo DiT (ComfyUI layout, not Wan)" in out.stdout, out.stdout + out.stderr
