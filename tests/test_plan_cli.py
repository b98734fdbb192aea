"""``wantui plan``: JSON shape, verdict and exit codes, inputs read through the argument
model and the dataset scan, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import modelfactory as mf
import pytest

from wantui.cli.main import main

TRAIN = [
    "accelerate", "launch", "wan_train_network.py", "--task", "t2v-A14B",
    "--dit", "dit.safetensors", "--dataset_config", "ds.toml", "--mixed_precision", "bf16",
    "--sdpa", "--fp8_base", "--fp8_scaled", "--gradient_checkpointing", "--network_dim", "32",
    "--optimizer_type", "adamw8bit", "--max_train_epochs", "10",
]  # fmt: skip


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "vids").mkdir()
    for i in range(5):
        (tmp_path / "vids" / f"c{i}.mp4").write_bytes(b"")
        (tmp_path / "vids" / f"c{i}.txt").write_text("a cat")
    (tmp_path / "ds.toml").write_text(
        '[general]\nresolution = [1280, 720]\ncaption_extension = ".txt"\n'
        '[[datasets]]\nvideo_directory = "vids"\ntarget_frames = [24]\nnum_repeats = 2\n'
    )
    mf.write_safetensors(tmp_path / "dit.safetensors", mf.dit_tensors("14B", "t2v"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _plan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["plan", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_json_shape(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = _plan(capsys, "--gpu", "H100", "--ram", "200", "--price", "2.5", "--", *TRAIN)
    assert code == 0
    assert data["version"]
    (train,) = data["steps"]
    for key, kind in {"step": str, "vram_peak_gib": float, "ram_peak_gib": float,
                      "fits": bool, "min_blocks_to_swap": int, "sec_per_step": float,
                      "total_steps": int, "hours": float, "cost": float,
                      "assumptions": list}.items():  # fmt: skip
        assert isinstance(train[key], kind), key
    assert train["step"] == "train" and train["fits"] is True
    assert train["min_blocks_to_swap"] == 0
    # 5 clips x 2 repeats, batch 1, 10 epochs; target_frames 24 rounds to 21 (6 latent frames)
    assert train["total_steps"] == 100
    assert any("1280x720, 21 frame(s) -> 21600 tokens" in a for a in train["assumptions"])
    assert train["cost"] == pytest.approx(train["hours"] * 2.5, abs=0.01)
    lo, hi = train["uncertainty"]["sec_per_step"]
    assert lo < train["sec_per_step"] < hi


def test_verdict_follows_gpu_memory(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, big = _plan(capsys, "--gpu-memory", "80", "--ram", "128", "--", *TRAIN)
    assert code == 0 and big["steps"][0]["fits"] is True
    code, small = _plan(capsys, "--gpu-memory", "24", "--ram", "128", "--", *TRAIN)
    assert code == 1 and small["steps"][0]["fits"] is False
    # no speed class without --gpu or a probe: the speed is left open, not guessed
    assert small["steps"][0]["sec_per_step"] is None


def test_flags_read_like_argparse(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An abbreviation musubi-tuner's argparse accepts counts, like the checks read it."""
    _, base = _plan(capsys, "--gpu-memory", "24", "--ram", "128", "--", *TRAIN)
    _, swapped = _plan(capsys, "--gpu-memory", "24", "--ram", "128", "--", *TRAIN,
                       "--blocks_to", "20")  # fmt: skip
    assert swapped["steps"][0]["vram_peak_gib"] < base["steps"][0]["vram_peak_gib"]
    assert swapped["steps"][0]["ram_peak_gib"] > base["steps"][0]["ram_peak_gib"]


def test_project(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "wantui.toml").write_text(
        '[project]\ndataset_config = "ds.toml"\n'
        '[steps.latents]\nargs = ["--vae", "vae.safetensors"]\n'
        '[steps.te]\nargs = ["--t5", "t5.pth", "--batch_size", "16"]\n'
        '[steps.train]\nlauncher = "accelerate"\nargs = '
        + json.dumps(TRAIN[3:]).replace('"ds.toml", ', "")
        + "\n"
    )
    code, data = _plan(capsys, "--gpu", "RTX 4090", "--ram", "64", "--project", str(folder))
    assert [s["step"] for s in data["steps"]] == ["latents", "te", "train"]
    train = data["steps"][2]
    assert train["fits"] is False and code == 1
    assert train["min_blocks_to_swap"] is None and train["change"]
    assert data["machine"]["speed_class"] == "RTX 4090"


def test_text_output(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["plan", "--gpu", "RTX 5090", "--ram", "96", "--", *TRAIN, "--blocks_to_swap", "30"]
    )
    out = capsys.readouterr().out
    assert "train" in out and "s/step" in out and "smallest --blocks_to_swap" in out
    assert code in (0, 1)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--gpu-memory", "nan"], "--gpu-memory"),
        (["--gpu-memory", "-3"], "--gpu-memory"),
        (["--gpu", "Voodoo 5"], "unknown GPU"),
        (["--price", "-1", "--gpu", "H100"], "--price"),
    ],
)
def test_bad_options(folder: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                     needle: str) -> None:  # fmt: skip
    assert main(["plan", *argv, "--", *TRAIN]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_broken_dataset_config(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "ds.toml").write_text("[general\nresolution = 3\n")
    assert main(["plan", "--gpu", "H100", "--", *TRAIN]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ds.toml:1" in err[0]


def test_not_a_wan_command(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--gpu", "H100", "--", "python", "flux_train_network.py"]) == 2
    assert "no musubi-tuner Wan step" in capsys.readouterr().err


def test_plan_imports_no_torch(folder: Path) -> None:
    code = (
        "import sys\nfrom wantui.cli.main import main\n"
        f"rc = main(['plan', '--json', '--gpu', 'H100', '--ram', '64', '--', *{TRAIN!r}])\n"
        "print('TORCH' if 'torch' in sys.modules else 'clean', rc, file=sys.stderr)\n"
    )
    import os

    import wantui

    env = {**os.environ, "PYTHONPATH": str(Path(wantui.__file__).parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=folder, timeout=60, env=env)  # fmt: skip
    assert out.stderr.strip().endswith("clean 0"), out.stderr


def test_doctor_prints_the_plan(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = json.dumps([a for a in TRAIN[3:] if a not in ("--dataset_config", "ds.toml")])
    (folder / "wantui.toml").write_text(
        f'[project]\ndataset_config = "ds.toml"\n[steps.train]\nargs = {args}\n'
    )
    main(["doctor", "--project", str(folder), "--no-probe"])
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("plan     train:"))
    assert "GiB VRAM" in line and "fit not judged" in line
    main(["doctor", "--project", str(folder), "--no-probe", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["plan"]["steps"][0]["step"] == "train"


def test_cached_probe_gives_the_machine(folder: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """`wantui plan` in a project reads the probe `wantui doctor` kept, not a new one."""
    from wantui.core.probe import runner

    args = json.dumps([a for a in TRAIN[3:] if a not in ("--dataset_config", "ds.toml")])
    (folder / "wantui.toml").write_text(
        f'[project]\ndataset_config = "ds.toml"\n[steps.train]\nargs = {args}\n'
    )
    report = {"torch": {"gpus": [{"name": "NVIDIA H100 80GB HBM3", "total_bytes": 80 * 1024**3}]},
              "platform": {"ram_bytes": 256 * 1024**3}}  # fmt: skip
    import wantui.core.probe.cache as cache

    monkeypatch.setattr(cache, "load_probe", lambda *a, **k: (runner.ProbeResult(
        python="py", data=report), "cached"))  # fmt: skip

    def no_probe(*a: object, **k: object) -> None:
        raise AssertionError("probed again")

    monkeypatch.setattr(runner, "run_probe", no_probe)
    monkeypatch.setattr("wantui.core.probe.run_probe", no_probe)
    code, data = _plan(capsys, "--project", str(folder))
    assert data["machine"]["gpu"] == "NVIDIA H100 80GB HBM3"
    assert data["machine"]["speed_class"] == "H100"
    assert data["steps"][0]["fits"] is True and code == 0


def test_probe_vram_check_reads_the_dataset(folder: Path) -> None:
    """The probe's cuda-oom prediction is the planner's: 720p at 81 frames does not fit an
    80 GB card without checkpoint offload, while the old model-size-only estimate said it did."""
    from wantui.core.models import inspect_file
    from wantui.core.probe import probe_findings
    from wantui.core.project import load_project

    args = [a for a in TRAIN[3:] if a not in ("--dataset_config", "ds.toml")]
    (folder / "wantui.toml").write_text(
        f'[project]\ndataset_config = "ds.toml"\n[steps.train]\nargs = {json.dumps(args)}\n'
    )
    data = {"torch": {"gpus": [{"name": "NVIDIA A100-SXM4-80GB", "total_bytes": 80 * 1024**3}]},
            "platform": {"ram_bytes": 512 * 1024**3}}  # fmt: skip
    dit = inspect_file(folder / "dit.safetensors")

    def oom() -> list:
        project = load_project(folder)
        return [
            f for f in probe_findings(data, project=project, dit=dit) if f.catalog == "cuda-oom"
        ]

    assert oom() == []  # 720p, 21 frames
    data["platform"]["ram_bytes"] = 2 * 1024**3  # short of host RAM: host-oom, not cuda-oom
    assert oom() == []
    data["platform"]["ram_bytes"] = 512 * 1024**3
    (folder / "ds.toml").write_text(
        '[general]\nresolution = [1280, 720]\ncaption_extension = ".txt"\n'
        '[[datasets]]\nvideo_directory = "vids"\ntarget_frames = [81]\n'
    )
    (found,) = oom()
    assert "Planned peak" in found.message and "wantui plan" in found.message
    assert (
        any(f.params.get("flag") == "--blocks_to_swap" for f in found.fixes)
        or "first change" in found.message
    )


def test_host_oom_counts_both_pinned_experts(folder: Path) -> None:
    """docs/wan.md: --offload_inactive_dit needs ~42 GB of pinned ("shared") memory for two
    fp8 experts; a 40 GiB machine is short, which one expert's file size did not show."""
    from wantui.core.preflight import preflight
    from wantui.core.probe.runner import ProbeResult
    from wantui.core.project import load_project

    mf.write_safetensors(folder / "low.safetensors", mf.dit_tensors("14B", "t2v", fp8=True))
    mf.write_safetensors(folder / "high.safetensors", mf.dit_tensors("14B", "t2v", fp8=True))
    args = ["--task", "t2v-A14B", "--dit", "low.safetensors", "--dit_high_noise",
            "high.safetensors", "--offload_inactive_dit", "--fp8_base", "--mixed_precision",
            "bf16", "--sdpa", "--gradient_checkpointing"]  # fmt: skip
    (folder / "wantui.toml").write_text(
        f'[project]\ndataset_config = "ds.toml"\n[steps.train]\nargs = {json.dumps(args)}\n'
    )
    data = {"torch": {"gpus": [{"name": "NVIDIA H100", "total_bytes": 80 * 1024**3}]},
            "platform": {"ram_bytes": 40 * 1024**3}}  # fmt: skip
    found = preflight(load_project(folder), probe=ProbeResult(python="py", data=data, ok=True))
    host = [f for f in found if f.catalog == "host-oom"]
    assert host and "pinned" in host[0].message


def test_fp8_file_needs_fp8_base(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An fp8 DiT file without --fp8_base is trained in 16 bits (musubi up-casts it)."""
    mf.write_safetensors(folder / "dit8.safetensors", mf.dit_tensors("14B", "t2v", fp8=True))
    base = [a if a != "dit.safetensors" else "dit8.safetensors" for a in TRAIN]
    base = [a for a in base if a not in ("--fp8_base", "--fp8_scaled")] + ["--blocks_to_swap", "10"]
    _, without = _plan(capsys, "--gpu-memory", "80", "--ram", "256", "--", *base)
    _, with_flag = _plan(capsys, "--gpu-memory", "80", "--ram", "256", "--", *base, "--fp8_base")
    assert without["steps"][0]["vram_peak_gib"] > with_flag["steps"][0]["vram_peak_gib"] + 5
