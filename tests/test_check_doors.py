"""One check path: the same broken setup gives the same findings whichever door it comes
in by: a pasted command (`check -- COMMAND`), the project (`check --project`),
`doctor --no-probe`, and the TUI's preflight."""

from __future__ import annotations

import json
import os
from pathlib import Path

import modelfactory as mf
import pytest

from wantui.cli.main import main
from wantui.core.dataset.mp4 import write_test_mp4
from wantui.core.project import load_project

pytestmark = pytest.mark.timeout(120)

DATASET = """\
[general]
resolution = [480, 272]
caption_extension = ".txt"
batch_size = 1

[[datasets]]
video_directory = "vids"
cache_directory = "cache"
target_frames = [1]
"""

LATENTS = "python musubi/wan_cache_latents.py --dataset_config dataset.toml --vae {vae}"
TE = "python musubi/wan_cache_text_encoder_outputs.py --dataset_config dataset.toml --t5 {t5}"
TRAIN = (
    "accelerate launch --num_cpu_threads_per_process 1 --mixed_precision bf16"
    " musubi/wan_train_network.py --dataset_config dataset.toml --task {task} --dit {dit}"
    " {high} {extra} {mp} --sdpa --gradient_checkpointing --optimizer_type adamw"
    " --learning_rate 2e-4 --network_module networks.lora_wan --network_dim 16"
    " --max_train_epochs 1 --output_dir out --output_name lora"
)


def _setup(root: Path) -> None:
    for name in (
        "wan_cache_latents.py",
        "wan_cache_text_encoder_outputs.py",
        "wan_train_network.py",
    ):
        (root / "musubi").mkdir(exist_ok=True)
        (root / "musubi" / name).write_text("")
    (root / "vids").mkdir()
    write_test_mp4(root / "vids" / "a.mp4", 20)
    (root / "vids" / "a.txt").write_text("a cat")
    (root / "dataset.toml").write_text(DATASET)
    m = root / "models"
    m.mkdir()
    mf.write_safetensors(m / "low.safetensors", mf.dit_tensors("14B", "t2v"))
    mf.write_safetensors(m / "high.safetensors", mf.dit_tensors("14B", "t2v"))
    mf.write_safetensors(m / "i2v.safetensors", mf.dit_tensors("14B", "i2v-A14B"))
    mf.write_safetensors(m / "vae.safetensors", mf.vae_tensors("2.1"))
    mf.write_safetensors(m / "t5.safetensors", mf.t5_wan_tensors())
    mf.write_safetensors(m / "umt5_xxl_fp16.safetensors", mf.t5_hf_tensors())
    mf.write_safetensors(m / "e5m2.safetensors", mf.dit_tensors("14B", "t2v", dtype="F8_E5M2"))
    mf.write_safetensors(m / "cut.safetensors", mf.dit_tensors("14B", "t2v"))
    size = (m / "cut.safetensors").stat().st_size
    os.truncate(m / "cut.safetensors", size // 3)  # an interrupted download


GOOD = {
    "vae": "models/vae.safetensors",
    "t5": "models/t5.safetensors",
    "task": "t2v-A14B",
    "dit": "models/low.safetensors",
    "high": "--dit_high_noise models/high.safetensors --timestep_boundary 875",
    "extra": "",
    "mp": "--mixed_prec bf16",
}
# name -> (changes to GOOD, the finding that must appear, or None: no error at all)
CASES = {
    "clean-mixed-prec-abbreviation": ({}, None),
    "wrong-t5": ({"t5": "models/umt5_xxl_fp16.safetensors"}, "wrong-t5-encoder"),
    "truncated-high-noise": (
        {"high": "--dit_high_noise models/cut.safetensors --timestep_boundary 875"},
        "corrupt-model-file",
    ),
    "dit-as-vae": ({"vae": "models/low.safetensors"}, "vae-wrong-file"),
    "i2v-dit-t2v-task": (
        {"dit": "models/i2v.safetensors", "high": ""},
        "dit-task-mismatch",
    ),
    "missing-t5": ({"t5": "models/nothere.pth"}, "wrong-t5-encoder"),
    "missing-vae-folder": ({"vae": "models"}, "vae-wrong-file"),
    "fp8-scaled-without-base": ({"extra": "--fp8_scaled"}, "fp8-scaled-on-fp8-weights"),
    "i2v-latents-without-i2v": (
        {"task": "i2v-A14B", "dit": "models/i2v.safetensors", "high": ""},
        "i2v-cache-mismatch",
    ),
    "fp8-e5m2-weights": ({"dit": "models/e5m2.safetensors", "high": ""}, None),
    "fp8-e5m2-weights-fp8-scaled": (
        {"dit": "models/e5m2.safetensors", "high": "", "extra": "--fp8_base --fp8_scaled"},
        "fp8-scaled-on-fp8-weights",
    ),
    "precision-fp16-on-bf16": ({"mp": "--mixed_precision fp16"}, "precision-mismatch"),
    "precision-only-launch": ({"mp": ""}, "precision-mismatch"),
    "blocks-to-swap-too-many": ({"extra": "--blocks_to_swap 45"}, "blockswap-with-offload"),
    "wan22-pair-under-wan21-task": ({"task": "t2v-14B"}, "wan22-task-not-set"),
    "fp8-e5m2-weights-fp8-base": (
        {"dit": "models/e5m2.safetensors", "high": "", "extra": "--fp8_base"},
        None,
    ),
}


def _ids(findings: list[dict]) -> list[tuple[str, str, str]]:
    return sorted((f["rule"], f["catalog"], f["severity"]) for f in findings)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[dict]:
    main(argv)
    return json.loads(capsys.readouterr().out)["findings"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_door_gives_the_same_findings(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    changes, expected = CASES[case]
    v = {**GOOD, **changes}
    script = "\n".join([LATENTS.format(**v), TE.format(**v), " ".join(TRAIN.format(**v).split())])
    assert main(["import", "--", script]) == 0
    capsys.readouterr()
    pasted = _json(capsys, ["check", "--json", "--", script])
    project = _json(capsys, ["check", "--json", "--project", str(tmp_path)])
    doctor = _json(capsys, ["doctor", "--no-probe", "--json", "--project", str(tmp_path)])
    from wantui.core.preflight import preflight

    tui = [f.to_json() for f in preflight(load_project(tmp_path))]
    assert _ids(pasted) == _ids(project) == _ids(doctor) == _ids(tui), case
    ids = _ids(doctor)
    assert len(ids) == len(set(ids)), f"a finding reported twice: {ids}"
    errors = {c for _, c, s in ids if s == "error"}
    if expected is None:
        assert not errors, ids
        assert "precision-mismatch" not in {c for _, c, _ in ids}
    else:
        assert expected in errors, ids


@pytest.mark.parametrize(
    "case", ["wrong-t5", "dit-as-vae", "truncated-high-noise", "i2v-dit-t2v-task", "missing-t5"]
)
def test_one_pasted_step_names_the_model_problems_doctor_names_for_it(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    v = {**GOOD, **CASES[case][0]}
    lines = {"latents": LATENTS.format(**v), "te": TE.format(**v), "train": TRAIN.format(**v)}
    assert main(["import", "--", "\n".join(lines.values())]) == 0
    capsys.readouterr()
    doctor = _json(capsys, ["doctor", "--no-probe", "--json"])
    for step, line in lines.items():
        want = {
            (f["rule"], f["captures"].get("flag"))
            for f in doctor
            if f["origin"] == "model" and f["captures"].get("step") == step
        }
        got = {
            (f["rule"], f["captures"].get("flag"))
            for f in _json(capsys, ["check", "--json", "--", line])
            if f["origin"] == "model"
        }
        assert want <= got, (step, want, got)
        if step == {"wrong-t5": "te", "dit-as-vae": "latents", "missing-t5": "te"}.get(
            case, "train"
        ):
            assert want, (case, step)
