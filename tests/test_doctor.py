"""``wantui doctor``: real probe, real project folder, JSON and text, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import modelfactory as mf
import pytest

from tests.cli_helpers import cli_env, run_wantui
from tests.test_probe import _fake  # a shell script standing in for an interpreter
from wantui.cli.main import main


def _project(tmp_path, train_extra=(), python=None):
    (tmp_path / "models").mkdir(exist_ok=True)
    mf.write_safetensors(tmp_path / "models/dit.safetensors", mf.dit_tensors("14B", "i2v"))
    mf.write_safetensors(tmp_path / "models/umt5_xxl_fp16.safetensors", mf.t5_hf_tensors())
    args = [
        "--task",
        "t2v-14B",
        "--dit",
        "models/dit.safetensors",
        "--mixed_precision",
        "bf16",
        "--sdpa",
        *train_extra,
    ]
    text = '[project]\nname = "t"\n'
    if python:
        text += f'python = "{python}"\n'
    text += '[steps.te]\nargs = ["--t5", "models/umt5_xxl_fp16.safetensors"]\n'
    text += "[steps.train]\nargs = [" + ", ".join(f'"{a}"' for a in args) + "]\n"
    (tmp_path / "wantui.toml").write_text(text)
    return tmp_path


def test_doctor_json_with_real_probe(tmp_path, capsys) -> None:
    root = _project(tmp_path, python=sys.executable)
    code = main(["doctor", "--project", str(root), "--json", "--probe-timeout", "90", "--fast"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    cats = {f["catalog"] for f in out["findings"]}
    assert {"no-cuda", "wrong-t5-encoder", "dit-task-mismatch"} <= cats
    assert out["probe"]["ok"] and out["probe"]["data"]["torch"]["cuda_available"] is False
    kinds = {m["flag"]: m["kind"] for m in out["models"]}
    assert kinds == {"--t5": "t5", "--dit": "wan-dit"}
    assert out["source"].endswith("wantui.toml")


def test_doctor_text_no_probe(tmp_path, capsys) -> None:
    root = _project(tmp_path)
    assert main(["doctor", "--project", str(root), "--no-probe"]) == 1
    out = capsys.readouterr().out
    assert "--t5 is not the Wan T5 encoder" in out
    assert "model    --dit" in out


def test_doctor_bad_interpreter_is_a_finding(tmp_path, capsys) -> None:
    root = _project(tmp_path)
    assert (
        main(["doctor", "--project", str(root), "--python", str(tmp_path / "nope"), "--json"]) == 1
    )
    out = json.loads(capsys.readouterr().out)
    assert "probe-python-missing" in {f["rule"] for f in out["findings"]}
    assert out["probe"]["ok"] is False


def test_doctor_machine_only_without_project(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["doctor", "--no-probe"]) == 0
    assert "checking the machine only" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content,needle",
    [
        (None, "no project file"),
        ("[project\nname=", "TOML syntax error"),
    ],
)
def test_doctor_unreadable_project(tmp_path, capsys, content, needle) -> None:
    if content is not None:
        (tmp_path / "wantui.toml").write_text(content)
    assert main(["doctor", "--project", str(tmp_path), "--no-probe"]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_doctor_healthy_models_no_model_errors(tmp_path, capsys) -> None:
    (tmp_path / "models").mkdir()
    mf.write_safetensors(tmp_path / "models/dit.safetensors", mf.dit_tensors("1.3B"))
    (tmp_path / "wantui.toml").write_text(
        '[project]\n[steps.train]\nargs = ["--task", "t2v-1.3B", "--dit", "models/dit.safetensors",'
        ' "--mixed_precision", "bf16"]\n'
    )
    main(["doctor", "--project", str(tmp_path), "--no-probe", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert not [f for f in out["findings"] if f["origin"] == "model"]


# -- `wantui doctor` as a subprocess: wrong model files, broken pipeline interpreters, bad
# options; --json prints exactly one JSON object on stdout; no probe process survives.


def _doctor(
    cwd: Path, *args: str, timeout: float = 60, config: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    env = cli_env(**({"XDG_CONFIG_HOME": str(config)} if config else {}))
    r = run_wantui("doctor", *args, cwd=cwd, timeout=timeout, env=env)
    return r, time.monotonic() - t0


def _json(r: subprocess.CompletedProcess[str]) -> dict:
    """stdout must be one JSON object and nothing else."""
    obj, end = json.JSONDecoder().raw_decode(r.stdout)
    assert r.stdout[end:].strip() == "", r.stdout[end : end + 200]
    assert isinstance(obj, dict)
    assert "Traceback" not in r.stderr
    return obj


def _write_project(root: Path, train: list[str], *, python: str | None = None, te=None, lat=None):
    text = '[project]\nname = "qa"\n'
    if python:
        text += f"python = {json.dumps(python)}\n"
    for name, args in (("latents", lat), ("te", te), ("train", train)):
        if args is not None:
            text += f"[steps.{name}]\nargs = {json.dumps(args)}\n"
    (root / "wantui.toml").write_text(text)


def test_wrong_model_files_each_become_their_catalog_row(tmp_path) -> None:
    m = tmp_path / "models"
    m.mkdir()
    mf.write_safetensors(m / "umt5_xxl_fp16.safetensors", mf.t5_hf_tensors())
    mf.write_safetensors(m / "wan2.2_vae.safetensors", mf.vae_tensors("2.2"))
    mf.write_safetensors(m / "i2v_fp16.safetensors", mf.dit_tensors("14B", "i2v", dtype="F16"))
    _write_project(
        tmp_path,
        ["--task", "t2v-14B", "--dit", "models/i2v_fp16.safetensors", "--mixed_precision", "bf16"],
        te=["--t5", "models/umt5_xxl_fp16.safetensors"],
        lat=["--vae", "models/wan2.2_vae.safetensors"],
    )
    r, _ = _doctor(tmp_path, "--no-probe", "--json")
    out = _json(r)
    assert r.returncode == 1
    cats = {f["catalog"] for f in out["findings"]}  # the inputs checks may say one first
    assert {"wrong-t5-encoder", "vae-wrong-file", "dit-task-mismatch", "precision-mismatch"} <= cats
    kinds = {mm["flag"]: (mm["kind"], mm["details"].get("version")) for mm in out["models"]}
    assert kinds["--vae"] == ("wan-vae", "2.2-5B")


def test_fp8_scaled_dit_and_renamed_pth_vae(tmp_path) -> None:
    pytest.importorskip("torch")
    m = tmp_path / "models"
    m.mkdir()
    mf.write_safetensors(
        m / "wan2.1_t2v_14B_fp8_scaled.safetensors", mf.dit_tensors("14B", "t2v", fp8_scaled=True)
    )
    mf.write_pth(m / "wan_2.1_vae.safetensors", mf.vae_tensors())  # a .pth, renamed
    _write_project(
        tmp_path,
        [
            "--task",
            "t2v-14B",
            "--dit",
            "models/wan2.1_t2v_14B_fp8_scaled.safetensors",
            "--fp8_base",
            "--vae",
            "models/wan_2.1_vae.safetensors",
        ],
    )
    r, _ = _doctor(tmp_path, "--no-probe", "--json")
    out = _json(r)
    rules = {f["rule"]: f for f in out["findings"] if f["origin"] == "model"}
    assert "fp8_scaled" in rules["dit-unusable"]["message"]
    assert rules["model-file-unloadable"]["catalog"] == "vae-wrong-file"
    assert "extension" in rules["model-file-unloadable"]["message"]


def test_nested_and_prefixed_checkpoints_are_preflight_errors(tmp_path) -> None:
    pytest.importorskip("torch")
    m = tmp_path / "models"
    m.mkdir()
    mf.write_pth(m / "t5.pth", mf.t5_wan_tensors(), wrap="state_dict")
    mf.write_pth(m / "vae.pth", {"module." + k: v for k, v in mf.vae_tensors().items()})
    _write_project(
        tmp_path,
        ["--task", "t2v-14B"],
        te=["--t5", "models/t5.pth"],
        lat=["--vae", "models/vae.pth"],
    )
    r, _ = _doctor(tmp_path, "--no-probe", "--json")
    out = _json(r)
    got = {
        (f["captures"].get("flag"), f["catalog"])
        for f in out["findings"]
        if f["rule"] == "model-file-unloadable"
    }
    assert got == {("--t5", "wrong-t5-encoder"), ("--vae", "vae-wrong-file")}


def test_sharded_dit_named_by_a_shard_without_the_dtype_key(tmp_path) -> None:
    m = tmp_path / "models"
    m.mkdir()
    t = mf.dit_tensors("1.3B", "t2v")
    keys = list(t)
    half = len(keys) // 2
    for i, part in enumerate((keys[:half], keys[half:])):
        mf.write_safetensors(m / f"dit-{i + 1:05d}-of-00002.safetensors", {k: t[k] for k in part})
    holder = next(
        i
        for i, part in enumerate((keys[:half], keys[half:]))
        if "blocks.0.cross_attn.k.weight" in part
    )
    other = f"models/dit-{2 - holder:05d}-of-00002.safetensors"
    _write_project(tmp_path, ["--task", "t2v-1.3B", "--dit", other, "--mixed_precision", "bf16"])
    r, _ = _doctor(tmp_path, "--no-probe", "--json")
    out = _json(r)
    (f,) = [f for f in out["findings"] if f["rule"] == "dit-unusable"]
    assert "Could not find the dtype" in f["message"]


@pytest.mark.skipif(os.name != "posix", reason="shell-script interpreters")
@pytest.mark.parametrize(
    "case,rule,code",  # code: 1 = the probe's finding is an error, 0 = a warning
    [
        ("missing", "probe-python-missing", 1),
        ("notexec", "probe-python-missing", 1),
        ("garbage", "probe-garbage", 1),
        ("flood", "probe-garbage", 1),
        ("hang", "probe-timeout", 0),  # a warning: the machine may only be slow
    ],
)
def test_broken_project_python(tmp_path, case, rule, code) -> None:
    pidfile = tmp_path / "pid"
    python = {
        "missing": "venv/bin/python",
        "notexec": str(tmp_path / "notexec"),
        "garbage": _fake(tmp_path, "garbage", "echo Welcome to conda; echo oops >&2"),
        "flood": _fake(tmp_path, "flood", "exec yes 'WANTUI_PROBE_JSON {'"),
        "hang": _fake(tmp_path, "hang", f"echo $$ > {pidfile}\nexec sleep 60"),
    }[case]
    (tmp_path / "notexec").write_text("print('hi')\n")
    _write_project(tmp_path, ["--task", "t2v-1.3B"], python=python)
    config = tmp_path / "config"  # the user trusts this folder's [project] python
    trusted = run_wantui("rules", "trust", str(tmp_path), env=cli_env(XDG_CONFIG_HOME=str(config)))
    assert trusted.returncode == 0, trusted.stderr
    r, took = _doctor(tmp_path, "--json", "--probe-timeout", "2", config=config)
    out = _json(r)
    assert r.returncode == 1, (r.returncode, r.stderr)  # the inputs checks find errors too
    probe = [f for f in out["findings"] if f["origin"] == "probe"]
    assert [f["rule"] for f in probe] == [rule]
    assert probe[0]["severity"] == ("error" if code else "warning")
    assert out["probe"]["ok"] is False
    assert took < 20, took
    if case == "hang":
        pid = int(pidfile.read_text())
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the hung probe survived doctor")


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "1e9"])
def test_bad_probe_timeout_is_a_usage_error(tmp_path, value) -> None:
    r, took = _doctor(tmp_path, f"--probe-timeout={value}", "--json", timeout=20)
    assert r.returncode == 2 and r.stdout == ""
    assert "--probe-timeout" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert took < 15


def test_no_project_json_is_one_object(tmp_path) -> None:
    r, _ = _doctor(tmp_path, "--no-probe", "--json")
    out = _json(r)
    assert r.returncode == 0
    assert out["findings"] == [] and out["models"] == [] and out["probe"] is None


def test_a_folder_or_fifo_as_a_model_path_is_one_clear_finding(tmp_path) -> None:
    (tmp_path / "Wan2.1-T2V-1.3B").mkdir()  # a diffusers-style folder given as --dit
    vae = tmp_path / "vae.safetensors"
    if hasattr(os, "mkfifo"):
        os.mkfifo(vae)  # must not hang doctor
    else:
        vae.mkdir()
    _write_project(
        tmp_path,
        ["--task", "t2v-1.3B", "--dit", "Wan2.1-T2V-1.3B", "--vae", "vae.safetensors"],
    )
    r, took = _doctor(tmp_path, "--no-probe", "--json", timeout=30)
    out = _json(r)
    bad = {
        f["captures"]["flag"]: f for f in out["findings"] if f["rule"] == "model-file-unreadable"
    }
    assert "FIFO" in bad["--vae"]["message"]
    # the folder: said once (the inputs checks may say it first, in their words)
    said = [f for f in out["findings"] if "Wan2.1-T2V-1.3B" in f["message"]]
    assert len(said) == 1 and ("folder" in said[0]["message"] or "directory" in said[0]["message"])
    assert took < 20


@pytest.mark.parametrize(
    "ram,limit,swap,expect",
    [
        (256, 24, "20", True),  # the container's limit, not the host's RAM, is what counts
        (256, None, "20", False),
        (16, None, None, False),  # no block swap: the DiT streams to the GPU (memmap)
        (12, None, None, True),  # but the 11 GB T5 is read whole into RAM by the te step
    ],
)
def test_host_memory_estimate(tmp_path, ram, limit, swap, expect) -> None:
    from wantui.core.preflight import preflight
    from wantui.core.probe import ProbeResult
    from wantui.core.project import load_project

    m = tmp_path / "models"
    m.mkdir()
    mf.write_safetensors(m / "dit.safetensors", mf.dit_tensors("14B", "t2v"))
    mf.write_safetensors(m / "t5.safetensors", mf.t5_wan_tensors())
    train = ["--task", "t2v-14B", "--dit", "models/dit.safetensors"]
    if swap:
        train += ["--blocks_to_swap", swap]
    _write_project(tmp_path, train, te=["--t5", "models/t5.safetensors"])
    GiB = 1024**3
    data = {"platform": {"ram_bytes": ram * GiB, "mem_limit_bytes": limit and limit * GiB}}
    found = preflight(load_project(tmp_path), probe=ProbeResult("py", data=data, ok=True))
    oom = [f for f in found if f.catalog == "host-oom"]
    assert bool(oom) == expect, [f.message for f in oom]
    for f in oom:
        assert f.severity.value == "warning" and "OOM killer" in f.message


@pytest.mark.skipif(os.name != "posix", reason="a deleted current folder is a POSIX thing")
def test_doctor_in_a_deleted_folder_is_a_usage_error(tmp_path) -> None:
    # bug: Path.cwd() raised FileNotFoundError, exit 3
    gone = tmp_path / "gone"
    gone.mkdir()
    code = (
        "import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]);"
        " from wantui.cli.main import main; sys.exit(main(['doctor', '--no-probe']))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(gone)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2, r.stderr
    assert "no longer exists" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_among_the_latent_caches_does_not_hang_doctor(tmp_path) -> None:
    from wantui.core.models import NotAModelFile, read_safetensors_header

    cache = tmp_path / "cache"
    cache.mkdir()
    os.mkfifo(cache / "clip_0001-0064x0064_wan.safetensors")
    with pytest.raises(NotAModelFile):
        read_safetensors_header(cache / "clip_0001-0064x0064_wan.safetensors")
    (tmp_path / "ds.toml").write_text(
        '[general]\nresolution = [64, 64]\n[[datasets]]\nvideo_directory = "cache"\n'
        'cache_directory = "cache"\ntarget_frames = [1]\n'
    )
    text = '[project]\nname = "qa"\ndataset_config = "ds.toml"\n'
    text += '[steps.train]\nargs = ["--task", "i2v-14B"]\n'
    (tmp_path / "wantui.toml").write_text(text)
    r, took = _doctor(tmp_path, "--no-probe", "--json", timeout=30)
    _json(r)
    assert r.returncode in (0, 1) and took < 20


def test_windows_model_paths_in_a_linux_project_get_a_hint(tmp_path) -> None:
    _write_project(tmp_path, ["--task", "t2v-1.3B", "--dit", r"C:\ComfyUI\models\wan.safetensors"])
    r, _ = _doctor(tmp_path, "--no-probe", "--json")
    out = _json(r)
    said = [f for f in out["findings"] if "wan.safetensors" in f["message"]]
    assert said and any("Windows path" in f["message"] for f in said), said
