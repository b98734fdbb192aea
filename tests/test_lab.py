"""The real-lab builder (scripts/build_lab.py), the real musubi-tuner log fixtures
(fixtures/logs/, those with a "command" in their verdict), and the GPU smoke run (scripts/gpu_smoke.sh, marked ``gpu``).

build_lab.py is a standalone script for the pipeline's interpreter; here it runs in the
test venv, which has torch (CPU) and safetensors, at ``--tiny`` scale for the files and at
the real scale through ``--print-shapes`` (no 2.8 GB write in a unit test).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit

from wantui.core.catalog import CATALOG
from wantui.core.project import load_project
from wantui.core.rules.examples import MarkedLog, read_marked_log

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "scripts" / "build_lab.py"
SMOKE = ROOT / "scripts" / "gpu_smoke.sh"
LOGS = ROOT / "fixtures" / "logs"


def _header(path: Path) -> tuple[dict, dict]:
    """A safetensors header read by hand: (tensors, metadata). No torch needed."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    head = json.loads(raw[8 : 8 + n])
    meta = head.pop("__metadata__", {})
    return head, meta


def _build(tmp: Path, *extra: str) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            str(BUILD),
            "--out",
            str(tmp),
            "--tiny",
            "--frames",
            "9",
            "--size",
            "32",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def real_shapes() -> dict:
    out = subprocess.run(
        [sys.executable, str(BUILD), "--print-shapes"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def tiny_lab(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("lab")
    return tmp, _build(tmp)


# ------------------------------------------------------------------ real shapes (docs/reference/wan-facts.md 4.3, 4.4)
def test_real_dit_shapes_match_wan21_1_3b(real_shapes: dict) -> None:
    dit = real_shapes["dit"]
    assert len(dit) == 825  # t2v-1.3B after prefix stripping
    assert dit["patch_embedding.weight"] == [1536, 16, 1, 2, 2]  # dim 1536, in_dim 16 (T2V)
    assert len({k.split(".")[1] for k in dit if k.startswith("blocks.")}) == 30
    assert dit["blocks.0.cross_attn.k.weight"] == [
        1536,
        1536,
    ]  # the key musubi reads the dtype from
    assert dit["blocks.29.ffn.0.weight"] == [8960, 1536]
    assert dit["head.head.weight"] == [64, 1536]
    assert not any("img_emb" in k or "k_img" in k for k in dit)  # not an I2V model


def test_real_vae_shapes_match_wan21_fingerprint(real_shapes: dict) -> None:
    vae = real_shapes["vae"]
    assert len(vae) == 194
    assert vae["encoder.conv1.weight"] == [96, 3, 3, 3, 3]
    assert vae["conv1.weight"] == [32, 32, 1, 1, 1]
    assert vae["conv2.weight"] == [16, 16, 1, 1, 1]
    assert vae["decoder.conv1.weight"] == [384, 16, 3, 3, 3]
    assert vae["decoder.head.2.weight"] == [3, 96, 3, 3, 3]


# ------------------------------------------------------------------ tiny lab on disk
def test_tiny_lab_models_keep_real_key_names(
    tiny_lab: tuple[Path, dict], real_shapes: dict
) -> None:
    _, info = tiny_lab
    dit, _ = _header(Path(info["dit"]["path"]))
    assert len(dit) == 15 + 27 * 2  # 2 blocks of 27 tensors + 15 outside the blocks
    real_keys = {
        k
        for k in real_shapes["dit"]
        if not k.startswith("blocks.") or k.split(".")[1] in ("0", "1")
    }
    assert set(dit) == real_keys
    assert dit["blocks.0.cross_attn.k.weight"]["dtype"] == "BF16"
    vae, _ = _header(Path(info["vae"]["path"]))
    assert set(vae) == set(real_shapes["vae"])
    assert vae["conv2.weight"]["shape"] == [16, 16, 1, 1, 1]  # z_dim stays 16 at tiny scale


def test_tiny_lab_te_caches_follow_musubi_format(tiny_lab: tuple[Path, dict]) -> None:
    lab, info = tiny_lab
    caches = sorted((lab / "data" / "cache").glob("*"))
    assert [p.name for p in caches] == ["clip_a_wan_te.safetensors", "clip_b_wan_te.safetensors"]
    for cache in caches:
        tensors, meta = _header(cache)
        assert list(tensors) == ["varlen_t5_bfloat16"]
        tokens, width = tensors["varlen_t5_bfloat16"]["shape"]
        assert width == 4096 and 1 <= tokens <= 512
        stem = cache.name.removesuffix("_wan_te.safetensors")
        caption = (
            next((lab / "data" / "videos").glob(f"{stem}.txt")).read_text(encoding="utf-8").strip()
        )
        assert meta == {"architecture": "wan", "caption1": caption, "format_version": "1.0.1"}


def test_tiny_lab_videos_are_decodable_containers(tiny_lab: tuple[Path, dict]) -> None:
    lab, info = tiny_lab
    assert len(info["videos"]) == 2
    for v in info["videos"]:
        path = lab / v["file"]
        data = path.read_bytes()
        if v["writer"] == "raw-avi":
            assert data[:4] == b"RIFF" and data[8:12] == b"AVI "
            assert data.count(b"00db") == 2 * 9  # 9 frame chunks + 9 index entries
            (total,) = struct.unpack("<I", data[4:8])
            assert total == len(data) - 8
        else:
            assert data[4:8] == b"ftyp"
        assert path.with_suffix(".txt").read_text(encoding="utf-8").strip() == v["caption"]


def test_tiny_lab_dataset_toml_is_valid_wan_config(tiny_lab: tuple[Path, dict]) -> None:
    lab, _ = tiny_lab
    cfg = tomlkit.parse((lab / "dataset.toml").read_text(encoding="utf-8")).unwrap()
    assert set(cfg) == {"general", "datasets"}
    ds = cfg["datasets"][0]
    assert all((f - 1) % 4 == 0 for f in ds["target_frames"])  # 4N+1: no rounding warning
    assert (lab / ds["video_directory"]).is_dir() and (lab / ds["cache_directory"]).is_dir()
    assert cfg["general"]["resolution"] == [32, 32]
    try:
        from wantui.core.dataset import check_dataset_config
    except ImportError:  # the inputs area has not landed: the schema facts above still hold
        return
    findings = check_dataset_config(lab / "dataset.toml", cwd=lab)
    assert [f for f in findings if str(f.severity).lower().endswith("error")] == []


def test_tiny_lab_project_renders_the_smoke_steps(tiny_lab: tuple[Path, dict]) -> None:
    lab, info = tiny_lab
    project = load_project(lab)
    assert not project.steps["te"].enabled  # TE caches are written by the builder
    train = project.argv("train")
    assert train[1:3] == ["-m", "accelerate.commands.launch"]
    for flag in ("--sdpa", "--network_module", "--optimizer_type", "--output_name", "--output_dir"):
        assert flag in train
    assert train[train.index("--max_train_steps") + 1] == "20"
    # the script's own --mixed_precision matches the DiT dtype (docs/reference/wan-facts.md 3.7), and so does accelerate's
    script_args = train[train.index(str(project.script_path(project.steps["train"]))) :]
    assert script_args[script_args.index("--mixed_precision") + 1] == "bf16"
    dit = script_args[script_args.index("--dit") + 1]
    assert (project.cwd() / dit).resolve() == Path(info["dit"]["path"]).resolve()
    latents = project.argv("latents")
    assert (project.cwd() / latents[latents.index("--vae") + 1]).is_file()
    assert latents[latents.index("--dataset_config") + 1] == str(lab / "dataset.toml")


def test_fp16_and_fp32_options_set_matching_precision(tmp_path: Path) -> None:
    info = _build(tmp_path / "a", "--dtype", "fp16")
    dit, _ = _header(Path(info["dit"]["path"]))
    assert dit["blocks.0.cross_attn.k.weight"]["dtype"] == "F16"
    train = load_project(tmp_path / "a").argv("train")
    assert [train[i + 1] for i, a in enumerate(train) if a == "--mixed_precision"] == [
        "fp16",
        "fp16",
    ]
    info = _build(tmp_path / "b", "--dtype", "fp32", "--python", "python3")
    assert _header(Path(info["dit"]["path"]))[0]["head.head.weight"]["dtype"] == "F32"
    project = load_project(tmp_path / "b")
    train = project.argv("train")
    assert [train[i + 1] for i, a in enumerate(train) if a == "--mixed_precision"] == ["no", "no"]
    # a bare interpreter name is written as an absolute path: wantui.toml resolves relative
    # paths against the project folder, where "python3" would not exist
    assert Path(project.python or "").is_absolute() and Path(train[0]).is_file()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--size", "40"], "multiple of 16"),
        (["--musubi", "/nonexistent/musubi"], "not a musubi-tuner checkout"),
        (["--frames", "0"], "--frames"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    out = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(tmp_path), "--tiny", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert needle in out.stderr and "Traceback" not in out.stderr


def test_out_is_a_file_exits_2_without_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "lab"
    blocker.write_text("not a folder")
    out = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(blocker), "--tiny"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert str(blocker) in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_real_shape_sparse_lab_passes_preflight_and_breaks_as_injected(tmp_path: Path) -> None:
    """The real-shape lab (sparse: real headers and sizes, no data written) is what wantui's
    own checks expect of a Wan2.1 1.3B project; two of the GPU run's injected failures are
    predicted before launch (the third, bitsandbytes, needs the pipeline's interpreter)."""
    from wantui.core.models import inspect_file
    from wantui.core.preflight import preflight

    musubi = tmp_path / "musubi"
    musubi.mkdir()
    for script in (
        "wan_cache_latents.py",
        "wan_cache_text_encoder_outputs.py",
        "wan_train_network.py",
    ):
        (musubi / script).write_text("")
    lab = tmp_path / "lab"
    out = subprocess.run(
        [
            sys.executable,
            str(BUILD),
            "--out",
            str(lab),
            "--sparse",
            "--musubi",
            str(musubi),
            "--frames",
            "17",
            "--size",
            "32",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    dit = Path(info["dit"]["path"])
    assert dit.stat().st_size == 2_838_077_304  # the size of the random-weight file
    model = inspect_file(dit)
    assert (model.kind, model.dtype) == ("wan-dit", "bf16")
    assert model.details["suggested_task"] == "t2v-1.3B" and model.details["layers"] == 30
    assert inspect_file(Path(info["vae"]["path"])).kind == "wan-vae"
    errors = [f for f in preflight(load_project(lab)) if str(f.severity).lower().endswith("error")]
    assert errors == [], [f.title for f in errors]
    text = (lab / "wantui.toml").read_text(encoding="utf-8")
    text = text.replace('"--sdpa", ', "").replace(
        '"--mixed_precision", "bf16"', '"--mixed_precision", "fp16"'
    )
    (lab / "wantui.toml").write_text(text, encoding="utf-8")
    catalogs = {
        f.catalog for f in preflight(load_project(lab)) if str(f.severity).lower().endswith("error")
    }
    assert {"missing-attention-flag", "precision-mismatch"} <= catalogs


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "--musubi and --work are required"),
        (["--musubi", "/nonexistent", "--work", "W"], "not a musubi-tuner checkout"),
        (["--musubi", str(ROOT), "--work", "W"], "not a musubi-tuner checkout"),
        (["--bogus"], "unknown option --bogus"),
    ],
)
def test_gpu_smoke_usage_errors_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    args = [str(tmp_path / "w") if a == "W" else a for a in args]
    out = subprocess.run(["bash", str(SMOKE), *args], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert needle in out.stderr


def test_gpu_smoke_rejects_bad_inject_mode(tmp_path: Path) -> None:
    fake = tmp_path / "musubi"
    fake.mkdir()
    (fake / "wan_train_network.py").write_text("")
    out = subprocess.run(
        [
            "bash",
            str(SMOKE),
            "--musubi",
            str(fake),
            "--work",
            str(tmp_path / "w"),
            "--inject",
            "oom",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "--inject must be" in out.stderr


# ------------------------------------------------------------------ real fixtures
def _fixtures() -> list[MarkedLog]:
    """The captured real runs: the example logs whose verdict names the command."""
    logs = [read_marked_log(p) for p in sorted(LOGS.glob("*.log"))]
    return [x for x in logs if x.verdict is not None and "command" in x.verdict]


def test_real_fixtures_exist_with_verdicts() -> None:
    logs = _fixtures()
    assert len(logs) >= 20
    for log in logs:
        exp = log.verdict
        assert set(exp) >= {"rules", "catalog", "exit", "exit_status", "command", "musubi"}
        assert "captured" in exp, log.path.name
        assert all(c in CATALOG for c in exp["catalog"]), (log.path.name, exp["catalog"])
        assert isinstance(exp["exit_status"], int)
        assert exp["musubi"] == "0.3.4 30c658c"
        assert log.data and b"/work/" not in log.data  # paths rewritten


def _diagnose(log: Path, tmp_path: Path) -> dict:
    plain = tmp_path / log.name  # the log as captured, without its fixture markers
    plain.write_bytes(read_marked_log(log).data)
    out = subprocess.run(
        [sys.executable, "-m", "wantui", "diagnose", "--json", "--no-user-rules", str(plain)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("name", ["no-cuda-import-train-accelerate", "no-cuda-import-latents"])
def test_real_no_cuda_logs_diagnose_as_no_cuda(name: str, tmp_path: Path) -> None:
    """Issue 6 without a GPU: the real import-time failure must be diagnosed as no-cuda,
    never as accelerate's CalledProcessError wrapper."""
    result = _diagnose(LOGS / f"{name}.log", tmp_path)
    catalogs = [f["catalog"] for f in result["findings"]]
    assert catalogs and catalogs[0] == "no-cuda", catalogs
    assert "wrapper-failure-unknown" not in catalogs


# The three failures the GPU run injects (docs/gpu-proof.md): broken the same way as the
# real log, `wantui fix --log <real log> --apply all --yes` must give back a trainable project.
def _train_args(lab: Path) -> tuple[list[str], list[str]]:
    step = load_project(lab).steps["train"]
    return list(step.args), list(step.launch_args)


def _opt(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


@pytest.mark.parametrize(
    ("mode", "log"),
    [
        ("attention", "missing-attention-flag-accelerate"),
        ("precision", "precision-mismatch-fp16"),
        ("bnb", "bitsandbytes-missing-adamw8bit-accelerate"),
    ],
)
def test_fix_flow_on_real_logs(
    tiny_lab: tuple[Path, dict], tmp_path: Path, mode: str, log: str
) -> None:
    src, _ = tiny_lab
    lab = tmp_path / "lab"
    shutil.copytree(src, lab)
    text = (lab / "wantui.toml").read_text(encoding="utf-8")
    good_args, good_launch = _train_args(lab)
    if mode == "attention":
        text = text.replace('"--sdpa", ', "")
    elif mode == "precision":
        text = text.replace('"--mixed_precision", "bf16"', '"--mixed_precision", "fp16"')
    else:
        text = text.replace('"--optimizer_type", "adamw"', '"--optimizer_type", "AdamW8bit"')
    (lab / "wantui.toml").write_text(text, encoding="utf-8")
    assert _train_args(lab) != (good_args, good_launch)  # really broken
    plain = tmp_path / f"{log}.log"  # the captured log without its fixture markers
    plain.write_bytes(read_marked_log(LOGS / f"{log}.log").data)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "wantui",
            "fix",
            "--project",
            str(lab),
            "--log",
            str(plain),
            "--apply",
            "all",
            "--yes",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    args, launch = _train_args(lab)
    if mode == "attention":
        assert "--sdpa" in args
    elif mode == "precision":
        assert (
            _opt(args, "--mixed_precision") == "bf16"
        )  # the script's own flag is what musubi checks
        assert _opt(launch, "--mixed_precision") in (None, "bf16")
    else:
        assert (_opt(args, "--optimizer_type") or "").lower() in (
            "adamw",
            "adamw_torch",
            "adamw_torch_fused",
        )
    # nothing else in the step changed
    strip = {"--sdpa", "--mixed_precision", "--optimizer_type"}

    def rest(a: list[str]) -> list[str]:
        out, skip = [], False
        for x in a:
            if skip:
                skip = False
            elif x in strip:
                skip = x != "--sdpa"
            else:
                out.append(x)
        return out

    assert rest(args) == rest(good_args)


# ------------------------------------------------------------------ against the real musubi-tuner
def _lab_env() -> tuple[Path, str] | None:
    musubi, python = os.environ.get("WANTUI_LAB_MUSUBI"), os.environ.get("WANTUI_LAB_PYTHON")
    if (
        musubi
        and python
        and (Path(musubi) / "wan_train_network.py").is_file()
        and Path(python).is_file()
    ):
        return Path(musubi), python
    return None


@pytest.mark.slow
@pytest.mark.skipif(
    _lab_env() is None,
    reason="set WANTUI_LAB_MUSUBI and WANTUI_LAB_PYTHON to a musubi-tuner checkout and its venv",
)
def test_wantui_run_real_musubi_without_cuda_is_diagnosed_no_cuda(tmp_path: Path) -> None:
    """`wantui run` drives the real musubi-tuner; on a machine without CUDA every Wan script dies
    at import (t5.py evaluates torch.cuda.current_device()), and wantui must say no-cuda."""
    env = _lab_env()
    assert env is not None
    musubi, python = env
    check = subprocess.run(
        [python, "-c", "import torch; print(torch.cuda.is_available())"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check.stdout.strip() != "False":
        pytest.skip("this pipeline interpreter sees CUDA: the no-cuda path cannot happen here")
    lab = tmp_path / "lab"
    subprocess.run(
        [
            python,
            str(BUILD),
            "--out",
            str(lab),
            "--tiny",
            "--frames",
            "9",
            "--size",
            "32",
            "--musubi",
            str(musubi),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "wantui",
            "run",
            "--force",  # the lab runs on a machine without CUDA on purpose
            "--project",
            str(lab),
            "--steps",
            "latents",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # no lab shim
    )
    assert out.returncode == 1, out.stdout + out.stderr
    result = json.loads(out.stdout)
    catalogs = [f["catalog"] for f in result["findings"]]
    assert catalogs and catalogs[0] == "no-cuda", catalogs


@pytest.mark.gpu
def test_gpu_smoke_run(tmp_path: Path) -> None:
    """The full proof on a CUDA machine: scripts/gpu_smoke.sh builds the real-shape lab, runs
    latents + 20 training steps under `wantui run`, injects the three failures, fixes and reruns."""
    env = _lab_env()
    if env is None or shutil.which("nvidia-smi") is None:
        pytest.skip("needs a CUDA GPU, WANTUI_LAB_MUSUBI and WANTUI_LAB_PYTHON")
    musubi, python = env
    out = subprocess.run(
        [
            "bash",
            str(SMOKE),
            "--musubi",
            str(musubi),
            "--python",
            python,
            "--work",
            str(tmp_path / "smoke"),
            "--inject",
            "all",
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "SMOKE: PASS" in out.stdout
