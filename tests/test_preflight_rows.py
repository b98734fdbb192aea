"""Every catalog row whose "before launch" check reads a header or the probe is predicted.

Each scenario builds a real project folder (wantui.toml, real-shape model files, a
dataset TOML and caches where needed), mutates a healthy probe report the way a real
machine would differ, runs ``preflight`` and asserts that the row's catalog id is found.
The healthy baseline must produce no error from the model or probe checks.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import modelfactory as mf
import pytest

from wantui.core.catalog import CATALOG
from wantui.core.finding import Finding, Severity
from wantui.core.preflight import preflight
from wantui.core.probe import ProbeResult
from wantui.core.project import load_project

GiB = 1024**3
HEADER_OR_PROBE = re.compile(
    r"probe|header|key layout|cache file keys|accelerate config|VRAM|free space|model size|Windows"
)


def healthy_probe(checkout: Path) -> dict[str, Any]:
    return {
        "schema": 1,
        "python": {"version": "3.11.9", "executable": "/venv/bin/python"},
        "platform": {"system": "Linux", "windows": False},
        "torch": {
            "installed": True,
            "version": "2.7.1+cu128",
            "cuda_build": "12.8",
            "cuda_available": True,
            "device_count": 1,
            "arch_list": ["sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"],
            "gpus": [
                {
                    "index": 0,
                    "name": "NVIDIA H100 80GB HBM3",
                    "total_bytes": 80 * GiB,
                    "free_bytes": 79 * GiB,
                    "capability": "9.0",
                    "bf16": True,
                }
            ],
        },
        "bitsandbytes": {"importable": True, "version": "0.45.5", "cuda_ok": True},
        "attention": {
            m: {"found": False, "importable": False}
            for m in ("xformers", "flash_attn", "flash_attn_interface", "sageattention")
        },
        "versions": {
            d: "1.0"
            for d in (
                "accelerate",
                "av",
                "diffusers",
                "einops",
                "safetensors",
                "toml",
                "transformers",
                "voluptuous",
                "ftfy",
                "easydict",
                "sentencepiece",
                "opencv-python",
                "musubi-tuner",
            )
        },
        "tensorboard": {"importable": True, "version": "2.19.0"},
        "accelerate": {
            "version": "1.6.0",
            "config_file": "/root/.cache/huggingface/accelerate/default_config.yaml",
            "config_exists": True,
            "config": {
                "distributed_type": "NO",
                "num_processes": "1",
                "mixed_precision": "bf16",
                "gpu_ids": "all",
                "use_cpu": "false",
            },
        },
        "musubi": {
            "found": True,
            "location": str(checkout / "src/musubi_tuner"),
            "expected_location": str(checkout / "src/musubi_tuner"),
            "matches_checkout": True,
            "editable": True,
        },
        "tokenizers": {
            "t5": {
                "repo": "Wan-AI/Wan2.1-T2V-14B",
                "subfolder": "google/umt5-xxl",
                "hub_cache": "/hf/hub",
                "cached": True,
            },
            "offline": False,
        },
        "disk": [{"path": "out", "exists": True, "measured_at": "/data", "free_bytes": 500 * GiB}],
        "shm": {"exists": True, "total_bytes": 32 * GiB},
        "nvidia_smi": {"found": True},
    }


class Scenario:
    """A project folder under construction."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "models").mkdir()
        self.checkout = root / "musubi-tuner"
        self.latents = ["--vae", "models/wan_2.1_vae.safetensors"]
        self.te = ["--t5", "models/models_t5_umt5-xxl-enc-bf16.safetensors", "--batch_size", "16"]
        self.train = [
            "--task",
            "t2v-14B",
            "--dit",
            "models/wan2.1_t2v_14B_bf16.safetensors",
            "--mixed_precision",
            "bf16",
            "--sdpa",
            "--gradient_checkpointing",
            "--optimizer_type",
            "adamw8bit",
            "--network_module",
            "networks.lora_wan",
            "--network_dim",
            "32",
            "--output_dir",
            "out",
            "--output_name",
            "lora",
        ]
        self.launch = ["--num_cpu_threads_per_process", "1", "--mixed_precision", "bf16"]
        self.probe = healthy_probe(self.checkout)
        self.dataset: str | None = None
        self.model("wan2.1_t2v_14B_bf16.safetensors", mf.dit_tensors("14B", "t2v"))
        self.model("wan_2.1_vae.safetensors", mf.vae_tensors("2.1"))
        self.model("models_t5_umt5-xxl-enc-bf16.safetensors", mf.t5_wan_tensors())

    def model(self, name: str, tensors: Any) -> str:
        mf.write_safetensors(self.root / "models" / name, tensors)
        return f"models/{name}"

    def set_flag(self, args: list[str], flag: str, value: str | None = None) -> None:
        if flag in args:
            i = args.index(flag)
            if value is not None:
                args[i + 1] = value
            return
        args.extend([flag] if value is None else [flag, value])

    def drop_flag(self, args: list[str], flag: str, has_value: bool = True) -> None:
        i = args.index(flag)
        del args[i : i + (2 if has_value else 1)]

    def run(self) -> list[Finding]:
        def arr(v: list[str]) -> str:
            return "[" + ", ".join(f'"{a}"' for a in v) + "]"

        text = f'[project]\nname = "t"\nmusubi_dir = "{self.checkout}"\n'
        if self.dataset:
            (self.root / "dataset.toml").write_text(self.dataset)
            text += 'dataset_config = "dataset.toml"\n'
        text += f"[steps.latents]\nargs = {arr(self.latents)}\n[steps.te]\nargs = {arr(self.te)}\n"
        text += f'[steps.train]\nlauncher = "accelerate"\nlaunch_args = {arr(self.launch)}\nargs = {arr(self.train)}\n'
        (self.root / "wantui.toml").write_text(text)
        project = load_project(self.root)
        return preflight(
            project, probe=ProbeResult(python="/venv/bin/python", data=self.probe, ok=True)
        )


def _sc_attention(s: Scenario) -> None:
    s.drop_flag(s.train, "--sdpa", has_value=False)
    s.set_flag(s.train, "--xformers")


def _sc_xformers_gpu(s: Scenario) -> None:
    _sc_attention(s)
    s.probe["attention"]["xformers"] = {"found": True, "importable": True, "version": "0.0.28"}
    s.probe["torch"]["gpus"][0].update(name="NVIDIA RTX PRO 6000 Blackwell", capability="12.0")


def _sc_gpu_arch(s: Scenario) -> None:
    # an RTX 50-series card under a cu124 torch wheel: no sm_120 kernels, no PTX to JIT
    s.probe["torch"]["arch_list"] = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
    s.probe["torch"]["gpus"][0].update(name="NVIDIA GeForce RTX 5090", capability="12.0")


def _sc_bnb(s: Scenario) -> None:
    s.probe["bitsandbytes"] = {
        "importable": False,
        "error": "ModuleNotFoundError: No module named 'bitsandbytes'",
    }


def _sc_precision(s: Scenario) -> None:
    s.drop_flag(s.train, "--mixed_precision")  # only accelerate's flag is left


def _sc_wan22(s: Scenario) -> None:
    s.set_flag(
        s.train,
        "--dit_high_noise",
        s.model(
            "wan2.2_t2v_high_noise_14B_fp16.safetensors", mf.dit_tensors("14B", "t2v", dtype="F16")
        ),
    )


def _sc_fp8_scaled(s: Scenario) -> None:
    s.set_flag(
        s.train,
        "--dit",
        s.model("wan2.1_t2v_14B_fp8_e4m3fn.safetensors", mf.dit_tensors("14B", fp8=True)),
    )
    s.set_flag(s.train, "--fp8_base")
    s.set_flag(s.train, "--fp8_scaled")


def _sc_t5(s: Scenario) -> None:
    s.set_flag(s.te, "--t5", s.model("umt5_xxl_fp8_e4m3fn_scaled.safetensors", mf.t5_hf_tensors()))


def _sc_dit_task(s: Scenario) -> None:
    s.set_flag(
        s.train,
        "--dit",
        s.model("wan2.1_i2v_480p_14B_bf16.safetensors", mf.dit_tensors("14B", "i2v")),
    )


def _sc_dit_wrong(s: Scenario) -> None:
    s.set_flag(
        s.train,
        "--dit",
        s.model("wan2.1_t2v_14B_fp8_scaled.safetensors", mf.dit_tensors("14B", fp8_scaled=True)),
    )


def _sc_vae(s: Scenario) -> None:
    s.set_flag(s.latents, "--vae", s.model("Wan2.2_VAE.safetensors", mf.vae_tensors("2.2")))


def _sc_clip(s: Scenario) -> None:
    s.set_flag(s.train, "--task", "i2v-14B")
    s.set_flag(s.train, "--dit", s.model("i2v.safetensors", mf.dit_tensors("14B", "i2v")))
    s.set_flag(
        s.latents, "--clip", s.model("open_clip_pytorch_model.safetensors", mf.clip_hf_tensors())
    )


DATASET = """[general]
resolution = [960, 544]
caption_extension = ".txt"
batch_size = 1
[[datasets]]
video_directory = "videos"
cache_directory = "cache"
target_frames = [1]
frame_extraction = "head"
"""


def _sc_i2v_cache(s: Scenario) -> None:
    s.set_flag(s.train, "--task", "i2v-A14B")
    s.set_flag(
        s.train,
        "--dit",
        s.model(
            "wan2.2_i2v_low_noise_14B_fp16.safetensors",
            mf.dit_tensors("14B", "i2v-A14B", dtype="F16"),
        ),
    )
    s.set_flag(s.train, "--mixed_precision", "fp16")
    s.set_flag(s.latents, "--i2v")  # the command is right now; the caches on disk are not
    s.dataset = DATASET
    (s.root / "videos").mkdir()
    (s.root / "cache").mkdir()
    mf.write_safetensors(
        s.root / "cache/clip1_00000-001_0960x0544_wan.safetensors",
        mf.latent_cache_tensors(),
        mf.CACHE_METADATA,
    )


def _sc_media(s: Scenario) -> None:
    # a download that saved the site's error page under the clip's name
    s.dataset = DATASET
    (s.root / "videos").mkdir()
    (s.root / "videos/clip1.mp4").write_bytes(
        b"<!DOCTYPE html><html><body>Not Found</body></html>\n"
    )
    (s.root / "videos/clip1.txt").write_text("a cat", encoding="utf-8")


def _sc_corrupt(s: Scenario) -> None:
    p = s.root / "models/wan2.1_t2v_14B_bf16.safetensors"
    os.truncate(p, p.stat().st_size // 3)  # an interrupted download


def _sc_tokenizer(s: Scenario) -> None:
    s.probe["tokenizers"]["t5"]["cached"] = False
    s.probe["tokenizers"]["offline"] = True


def _sc_no_cuda(s: Scenario) -> None:
    s.probe["torch"].update(
        version="2.7.1+cpu", cuda_build=None, cuda_available=False, device_count=0, gpus=[]
    )


def _sc_module(s: Scenario) -> None:
    s.probe["musubi"] = {"found": False}


def _sc_stale(s: Scenario) -> None:
    s.probe["musubi"].update(
        location="/venv/lib/python3.11/site-packages/musubi_tuner",
        matches_checkout=False,
        editable=False,
    )


def _sc_dll(s: Scenario) -> None:
    s.probe["platform"].update(system="Windows", windows=True)
    s.probe["torch"] = {
        "installed": True,
        "error": "OSError: [WinError 126] The specified module could not be"
        ' found. Error loading "c10.dll" or one of its dependencies.',
    }


def _sc_acc_defaults(s: Scenario) -> None:
    s.probe["accelerate"].update(config_exists=False, config={})


def _sc_acc_gpu(s: Scenario) -> None:
    s.probe["accelerate"]["config"]["use_cpu"] = "true"


def _sc_oom(s: Scenario) -> None:
    s.probe["torch"]["gpus"][0].update(
        name="NVIDIA GeForce RTX 4090", total_bytes=24 * GiB, free_bytes=23 * GiB
    )


def _sc_dtype_runtime(s: Scenario) -> None:
    s.set_flag(
        s.train,
        "--dit",
        s.model("wan2.1_t2v_14B_fp8_e4m3fn.safetensors", mf.dit_tensors("14B", fp8=True)),
    )


def _sc_tensorboard(s: Scenario) -> None:
    s.set_flag(s.train, "--logging_dir", "logs")
    s.probe["tensorboard"] = {"importable": False, "version": None}


def _sc_disk(s: Scenario) -> None:
    s.probe["disk"][0]["free_bytes"] = 300 * 1024**2


def _sc_shm(s: Scenario) -> None:
    s.probe["shm"]["total_bytes"] = 64 * 1024**2


def _sc_libuv(s: Scenario) -> None:
    s.probe["platform"].update(system="Windows", windows=True)
    s.probe["accelerate"].update(config_exists=False, config={})
    gpu = s.probe["torch"]["gpus"][0]
    s.probe["torch"]["gpus"] = [gpu, dict(gpu, index=1)]
    s.probe["torch"]["device_count"] = 2


def _sc_blockswap(s: Scenario) -> None:
    s.set_flag(s.train, "--task", "t2v-1.3B")
    s.set_flag(
        s.train, "--dit", s.model("wan2.1_t2v_1.3B_bf16.safetensors", mf.dit_tensors("1.3B"))
    )
    s.set_flag(s.train, "--blocks_to_swap", "35")  # fine for 14B, too many for 30 blocks


def _sc_host_oom(s: Scenario) -> None:
    # block swap holds the 28.6 GB DiT in system RAM; the container allows 24 GiB
    s.probe["platform"].update(ram_bytes=256 * GiB, mem_limit_bytes=24 * GiB)
    s.set_flag(s.train, "--blocks_to_swap", "20")


SCENARIOS: dict[str, Callable[[Scenario], None]] = {
    "attention-backend-missing": _sc_attention,
    "xformers-invalid-argument": _sc_xformers_gpu,
    "bitsandbytes-missing": _sc_bnb,
    "precision-mismatch": _sc_precision,
    "wan22-task-not-set": _sc_wan22,
    "fp8-scaled-on-fp8-weights": _sc_fp8_scaled,
    "wrong-t5-encoder": _sc_t5,
    "dit-task-mismatch": _sc_dit_task,
    "dit-wrong-file": _sc_dit_wrong,
    "vae-wrong-file": _sc_vae,
    "wrong-clip-model": _sc_clip,
    "i2v-cache-mismatch": _sc_i2v_cache,
    "corrupt-model-file": _sc_corrupt,
    "tokenizer-load-failure": _sc_tokenizer,
    "no-cuda": _sc_no_cuda,
    "module-not-installed": _sc_module,
    "stale-install": _sc_stale,
    "windows-dll-load": _sc_dll,
    "accelerate-defaults": _sc_acc_defaults,
    "accelerate-gpu-config": _sc_acc_gpu,
    "cuda-oom": _sc_oom,
    "dtype-mismatch-runtime": _sc_dtype_runtime,
    "tensorboard-missing": _sc_tensorboard,
    "disk-full": _sc_disk,
    "dataloader-shm": _sc_shm,
    "windows-libuv": _sc_libuv,
    "blockswap-with-offload": _sc_blockswap,
    "host-oom": _sc_host_oom,
    "gpu-arch-unsupported": _sc_gpu_arch,
    "media-not-decodable": _sc_media,
}


def test_every_header_or_probe_row_has_a_scenario() -> None:
    rows = {e.id for e in CATALOG.values() if HEADER_OR_PROBE.search(e.before_launch)}
    assert rows, "the catalog lost its before-launch column?"
    missing = sorted(rows - SCENARIOS.keys())
    assert not missing, f"catalog rows without a preflight test: {missing}"


def _mine(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.origin in ("model", "probe")]


def test_healthy_baseline(tmp_path) -> None:
    found = _mine(Scenario(tmp_path).run())
    errors = [(f.rule, f.message) for f in found if f.severity is not Severity.INFO]
    assert errors == []


@pytest.mark.parametrize("catalog_id", sorted(SCENARIOS))
def test_row_predicted(tmp_path, catalog_id) -> None:
    s = Scenario(tmp_path)
    SCENARIOS[catalog_id](s)
    findings = s.run()
    hits = [f for f in findings if f.catalog == catalog_id]
    assert hits, f"{catalog_id} not predicted; got {[f.catalog for f in findings]}"
    if catalog_id != "accelerate-defaults":  # advice by design (info)
        assert any(f.severity is not Severity.INFO for f in hits)
    for f in hits:
        assert f.message and f.title
        for fix in f.fixes:
            fix.to_json()  # well-formed, validated at construction


def test_fixes_name_the_right_values(tmp_path) -> None:
    s = Scenario(tmp_path)
    _sc_dit_task(s)
    f = next(f for f in s.run() if f.catalog == "dit-task-mismatch")
    assert f.fixes[0].params == {"step": "train", "flag": "--task", "value": "i2v-14B"}


def test_i2v_a14b_file_under_default_task_suggests_a14b(tmp_path) -> None:
    s = Scenario(tmp_path)
    s.drop_flag(s.train, "--task")
    s.set_flag(s.train, "--dit", s.model("x.safetensors", mf.dit_tensors("14B", "i2v-A14B")))
    f = next(f for f in s.run() if f.rule == "dit-task-mismatch")
    assert f.fixes[0].action == "flag_add" and f.fixes[0].params["value"] == "i2v-A14B"
    assert "(the default)" in f.message


def test_t5_pth_in_wan_layout_is_accepted(tmp_path) -> None:
    s = Scenario(tmp_path)
    mf.write_pth(tmp_path / "models/models_t5_umt5-xxl-enc-bf16.pth", mf.t5_wan_tensors())
    s.set_flag(s.te, "--t5", "models/models_t5_umt5-xxl-enc-bf16.pth")
    assert not [f for f in s.run() if f.catalog == "wrong-t5-encoder"]


def test_missing_model_file(tmp_path) -> None:
    s = Scenario(tmp_path)
    s.set_flag(s.te, "--t5", "models/nope.pth")
    hits = [f for f in s.run() if f.catalog == "wrong-t5-encoder" or f.rule == "model-file-missing"]
    assert hits and all(f.severity is Severity.ERROR for f in hits)


def test_probe_failure_findings_pass_through(tmp_path) -> None:
    s = Scenario(tmp_path)
    s.run()
    from wantui.core.probe import run_probe

    project = load_project(tmp_path)
    bad = run_probe(str(tmp_path / "no-python"), timeout=5)
    found = preflight(project, probe=bad)
    assert any(f.rule == "probe-python-missing" for f in found)


def test_probe_data_never_crashes_on_odd_values(tmp_path) -> None:
    s = Scenario(tmp_path)
    s.probe = copy.deepcopy(s.probe)
    s.probe["torch"]["gpus"] = [{"capability": None, "total_bytes": None}]
    s.probe["accelerate"]["config"] = {"num_processes": "many", "gpu_ids": "0,x"}
    s.probe["disk"] = [{"path": "out"}]
    s.probe["shm"] = {"exists": True}
    s.run()
    s.probe = {}
    s.run()


@pytest.mark.parametrize(
    "catalog_id,rule",
    [
        ("precision-mismatch", "precision-mismatch"),
        ("fp8-scaled-on-fp8-weights", "fp8-scaled-on-fp8"),
        ("blockswap-with-offload", "blockswap-too-many"),
        ("wan22-task-not-set", "wan22-task-high-noise"),
    ],
)
def test_model_checks_alone(tmp_path, catalog_id, rule) -> None:
    """The header checks stand on their own (the inputs area may report the same row)."""
    from wantui.core.preflight import model_findings

    s = Scenario(tmp_path)
    SCENARIOS[catalog_id](s)
    s.run()
    found = model_findings(load_project(tmp_path))
    assert any(f.rule == rule and f.catalog == catalog_id for f in found), [f.rule for f in found]


def test_precision_message_names_the_accelerate_trap(tmp_path) -> None:
    from wantui.core.preflight import model_findings

    s = Scenario(tmp_path)
    _sc_precision(s)
    s.run()
    f = next(f for f in model_findings(load_project(tmp_path)) if f.rule == "precision-mismatch")
    assert "only accelerate's --mixed_precision bf16" in f.message
    assert f.fixes[0].params == {"step": "train", "flag": "--mixed_precision", "value": "bf16"}


def test_skipped_probe_parts_are_not_missing_packages(tmp_path) -> None:
    s = Scenario(tmp_path)
    s.probe["bitsandbytes"] = {"importable": None, "note": "import skipped (--fast)"}
    _sc_attention(s)
    s.probe["attention"]["xformers"] = {"found": True, "importable": None}
    cats = {f.catalog for f in s.run()}
    assert "bitsandbytes-missing" not in cats and "attention-backend-missing" not in cats


def _small_wan_t5(vocab: int = 32128, dim: int = 512, blocks: int = 6) -> dict:
    """A T5 in the Wan key layout but not umt5-xxl (a t5-small converted, say)."""
    t = {"token_embedding.weight": ("BF16", (vocab, dim))}
    for i in range(blocks):
        b = f"blocks.{i}."
        for p in ("q", "k", "v", "o"):
            t[f"{b}attn.{p}.weight"] = ("BF16", (dim, dim))
        t[b + "ffn.fc1.weight"] = ("BF16", (dim * 2, dim))
    return t


def test_t5_wrong_size_names_the_sizes_not_missing_keys(tmp_path) -> None:
    """Issue 9 item 11: a Wan-layout T5 of the wrong size is a size problem, not missing
    keys; the right file is named with its sizes and offered for download."""
    s = Scenario(tmp_path)
    s.set_flag(s.te, "--t5", s.model("my_t5.safetensors", _small_wan_t5()))
    (f,) = [f for f in s.run() if f.catalog == "wrong-t5-encoder"]
    assert f.rule == "t5-wrong-size"
    assert "vocab 32128 (expected 256384)" in f.message and "dim 512 (expected 4096)" in f.message
    assert "blocks 6 (expected 24)" in f.message
    assert "size mismatch for token_embedding.weight" in f.message
    assert "Missing key" not in f.message
    assert f.fixes and f.fixes[0].action == "download"
    assert "models_t5_umt5-xxl-enc-bf16.pth" in f.advice[0]


def test_t5_wrong_size_under_the_right_name_is_not_told_to_get_that_file(tmp_path) -> None:
    """The user's file already has the right file's name: advising "use
    models_t5_umt5-xxl-enc-bf16.pth" (or downloading onto it) leads nowhere."""
    pytest.importorskip("torch")
    s = Scenario(tmp_path)
    mf.write_pth(tmp_path / "models/models_t5_umt5-xxl-enc-bf16.pth", _small_wan_t5())
    s.set_flag(s.te, "--t5", "models/models_t5_umt5-xxl-enc-bf16.pth")
    (f,) = [f for f in s.run() if f.catalog == "wrong-t5-encoder"]
    assert f.rule == "t5-wrong-size" and not f.fixes
    assert "does not hold that model" in f.advice[0] and "Move it aside" in f.advice[0]
    # the log rule's download fix (t5-wrong-size) would land on that very file: refused
    from wantui.core.fixactions import FixAction
    from wantui.core.fixes import plan_fix

    action = FixAction("download", {"name": "t5", "step": "te", "flag": "--t5"})
    plan = plan_fix(action, load_project(tmp_path))
    assert plan.refused and "already there under the right name" in plan.refused
    assert "vocab 32128" in plan.refused and "move it aside" in plan.refused
