"""The model-file checks no other test reaches, held to their exact wording (title,
message, fixes, priority): their texts now come from rules/checks/<id>.yaml."""

from __future__ import annotations

from pathlib import Path

import modelfactory as mf

from wantui.core.finding import Finding, Severity
from wantui.core.modelchecks.refs import project_models
from wantui.core.preflight import model_findings
from wantui.core.project import load_project

T2V = "models/wan2.1_t2v_14B_bf16.safetensors"


def _project(root: Path, train: list[str], latents: list[str] | None = None) -> list[Finding]:
    (root / "models").mkdir(exist_ok=True)
    mf.write_safetensors(root / T2V, mf.dit_tensors("14B", "t2v"))
    mf.write_safetensors(root / "models/vae.safetensors", mf.vae_tensors("2.1"))

    def arr(v: list[str]) -> str:
        return "[" + ", ".join(f'"{a}"' for a in v) + "]"

    lat = ["--vae", "models/vae.safetensors", *(latents or [])]
    (root / "wantui.toml").write_text(
        '[project]\nname = "t"\n'
        f"[steps.latents]\nargs = {arr(lat)}\n"
        f"[steps.train]\nargs = {arr(['--mixed_precision', 'bf16', *train])}\n"
    )
    return model_findings(load_project(root))


def _one(found: list[Finding], rule: str) -> Finding:
    [f] = [f for f in found if f.rule == rule]
    return f


def test_blockswap_and_offload(tmp_path: Path) -> None:
    found = _project(
        tmp_path,
        ["--task", "t2v-14B", "--dit", T2V, "--blocks_to_swap", "10", "--offload_inactive_dit"],
    )
    f = _one(found, "blockswap-and-offload")
    assert f.title == "--blocks_to_swap together with --offload_inactive_dit"
    assert f.message == (
        "Training stops with 'Block swap is not supported with offloading inactive DiT'."
    )
    assert (f.catalog, f.severity, f.priority, f.steps) == (
        "blockswap-with-offload",
        Severity.ERROR,
        75,
        ("train",),
    )
    assert [(x.action, x.label) for x in f.fixes] == [
        ("flag_remove", "Keep block swap, drop --offload_inactive_dit")
    ]
    assert f.origin == "model" and f.captures["flag"] == "--dit" and f.advice == []


def test_clip_missing_for_wan21_i2v(tmp_path: Path) -> None:
    i2v = "models/i2v.safetensors"
    (tmp_path / "models").mkdir()
    mf.write_safetensors(tmp_path / i2v, mf.dit_tensors("14B", "i2v"))
    f = _one(_project(tmp_path, ["--task", "i2v-14B", "--dit", i2v]), "clip-missing-for-i2v")
    assert f.title == "--task i2v-14B needs latents cached with --clip"
    assert f.message == (
        "Wan2.1 I2V training reads CLIP image features from the latent caches; caching"
        " without --clip makes training stop at the first step with KeyError: 'clip'."
    )
    assert (f.catalog, f.priority, f.steps, f.location, f.captures) == (
        "wrong-clip-model",
        78,
        ("latents", "train"),
        None,
        {},
    )
    assert [(x.action, x.label) for x in f.fixes] == [
        ("download", "Download the Wan-AI CLIP and add --clip to latent caching")
    ]


def test_clip_unused_by_wan22(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    mf.write_safetensors(tmp_path / "models/clip.safetensors", mf.clip_hf_tensors())
    found = _project(
        tmp_path,
        ["--task", "t2v-A14B", "--dit", T2V],
        latents=["--clip", "models/clip.safetensors"],
    )
    f = _one(found, "clip-unused")
    assert (f.title, f.severity, f.priority, f.steps) == (
        "CLIP is not used by Wan2.2",
        Severity.INFO,
        10,
        ("latents",),
    )
    assert f.message == (
        "--task t2v-A14B does not read CLIP features; --clip only costs time and memory."
    )
    assert [(x.action, x.params, x.label) for x in f.fixes] == [
        ("flag_remove", {"step": "latents", "flag": "--clip"}, "Drop --clip")
    ]


def test_dit_pair_mismatch(tmp_path: Path) -> None:
    high = "models/wan2.2_i2v_high_noise_14B_fp16.safetensors"
    (tmp_path / "models").mkdir()
    mf.write_safetensors(tmp_path / high, mf.dit_tensors("14B", "i2v-A14B", dtype="F16"))
    found = _project(tmp_path, ["--task", "t2v-A14B", "--dit", T2V, "--dit_high_noise", high])
    f = _one(found, "dit-pair-mismatch")
    refs = {r.flag: r for r in project_models(load_project(tmp_path))}
    assert f.title == "--dit and --dit_high_noise are different models"
    assert f.message == (
        f"--dit is {refs['--dit'].info.summary()}, --dit_high_noise is"
        f" {refs['--dit_high_noise'].info.summary()}; the high-noise weights are swapped into"
        " the same WanModel and cannot fit both."
    )
    assert (f.catalog, f.priority, f.location.path if f.location else None) == (
        "dit-task-mismatch",
        84,
        str(tmp_path / high),
    )


def test_wan22_weights_under_a_wan21_task(tmp_path: Path) -> None:
    low = "models/wan2.2_t2v_low_noise_14B_fp16.safetensors"
    (tmp_path / "models").mkdir()
    mf.write_safetensors(tmp_path / low, mf.dit_tensors("14B", "t2v", dtype="F16"))
    found = _project(tmp_path, ["--task", "t2v-14B", "--dit", low])
    f = _one(found, "wan22-task-default")
    assert (f.title, f.severity, f.priority) == (
        "Wan2.2 weights with the Wan2.1 task t2v-14B",
        Severity.WARNING,
        60,
    )
    assert f.message == (
        f"{tmp_path / low} looks like Wan2.2 (file name or metadata) but --task t2v-14B is a"
        " Wan2.1 config: the weights load, then train with the Wan2.1 time embedding and no"
        " expert boundary."
    )
    assert [(x.action, x.params, x.label) for x in f.fixes] == [
        (
            "flag_set",
            {"step": "train", "flag": "--task", "value": "t2v-A14B"},
            "Set --task t2v-A14B",
        )
    ]
