"""The environment probe, run for real with this venv's interpreter (CPU torch 2.13,
accelerate, bitsandbytes), and against fake interpreters that hang, babble or fail."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from wantui.core.finding import Severity
from wantui.core.probe import run_probe


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("probe")
    checkout = tmp / "musubi-tuner"
    checkout.mkdir()
    # generous timeout: this shared CI box is slow; the probe's own figure is checked below
    return run_probe(
        sys.executable, timeout=90, checkout=checkout, paths=[str(tmp), str(tmp / "not/yet")]
    ), tmp


def test_real_probe_answers(real) -> None:
    res, tmp = real
    assert res.ok, res.findings
    d = res.data
    assert d["schema"] == 1
    assert os.path.realpath(d["python"]["executable"]) == os.path.realpath(sys.executable)
    assert d["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    # torch.__version__ carries the build ("2.13.0+cu130"), the distribution's version not;
    # this machine has no GPU, and its torch is the CPU build or (Python 3.13 from PyPI) a
    # CUDA one
    assert d["torch"]["installed"]
    assert d["torch"]["version"].split("+")[0] == metadata.version("torch").split("+")[0]
    assert d["torch"]["cuda_available"] is False
    assert d["torch"]["gpus"] == []
    assert d["bitsandbytes"]["importable"] is True
    assert d["bitsandbytes"]["version"] == metadata.version("bitsandbytes")
    assert d["bitsandbytes"]["cuda_ok"] is None  # no CUDA: not tried, not failed
    assert d["versions"]["accelerate"] == metadata.version("accelerate")
    assert d["accelerate"]["version"] == metadata.version("accelerate")
    assert d["accelerate"]["config_file"].endswith(("default_config.yaml", "default_config.json"))
    assert d["musubi"]["found"] is False
    assert d["attention"]["xformers"]["importable"] is False
    assert d["platform"]["windows"] is False
    disk = {e["path"]: e for e in d["disk"]}
    assert disk[str(tmp)]["exists"] and disk[str(tmp)]["free_bytes"] > 0
    assert not disk[str(tmp / "not/yet")]["exists"]  # measured at the nearest existing parent
    assert disk[str(tmp / "not/yet")]["measured_at"] == str(tmp)
    assert d["shm"]["exists"] == os.path.isdir("/dev/shm")
    assert "torch" in d["timings"] and d["elapsed_s"] < 60
    json.dumps(res.to_json())


def test_real_probe_findings(real) -> None:
    res, _ = real
    rules = {f.rule: f for f in res.findings}
    assert rules["probe-no-cuda"].catalog == "no-cuda"
    cuda_build = res.data["torch"]["cuda_build"]
    expected = "CPU-only build" if cuda_build is None else "sees no GPU"
    assert expected in rules["probe-no-cuda"].message
    assert rules["probe-musubi-missing"].catalog == "module-not-installed"
    assert all(f.origin == "probe" for f in res.findings)


def test_fast_probe_through_a_noisy_wrapper_finds_musubi(tmp_path) -> None:
    # a wrapper that prints before starting Python (conda activate scripts do): the runner
    # still finds the probe's line; --fast skips the slow bitsandbytes import. A fake
    # musubi_tuner on PYTHONPATH in another folder than the checkout is a stale install.
    src = tmp_path / "other" / "src" / "musubi_tuner"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text("raise SystemExit('the probe must not import musubi_tuner')\n")
    checkout = tmp_path / "checkout"
    (checkout / "src" / "musubi_tuner").mkdir(parents=True)
    py = _fake(tmp_path, "py", f'echo "activating env..."\nexec "{sys.executable}" "$@"')
    # an HF home with the umt5 tokenizer cached and an accelerate config in it
    hf = tmp_path / "hf"
    tok = hf / "hub/models--Wan-AI--Wan2.1-T2V-14B/snapshots/abc123/google/umt5-xxl"
    tok.mkdir(parents=True)
    (tok / "tokenizer.json").write_text("{}")
    (hf / "accelerate").mkdir()
    (hf / "accelerate/default_config.yaml").write_text(
        "compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\ngpu_ids: 0,1\n"
        "mixed_precision: bf16\nnum_processes: 2\nuse_cpu: false\n"
    )
    env = dict(os.environ, PYTHONPATH=str(src.parent), HF_HOME=str(hf), HF_HUB_OFFLINE="1")
    env.pop("HF_HUB_CACHE", None)
    env.pop("ACCELERATE_CONFIG_FILE", None)
    res = run_probe(py, timeout=90, fast=True, env=env, checkout=checkout)
    assert res.ok, res.findings
    assert res.data["bitsandbytes"]["importable"] is None  # found, import skipped
    assert res.data["attention"]["xformers"]["found"] is False
    mus = res.data["musubi"]
    assert mus["found"] and os.path.realpath(mus["location"]) == os.path.realpath(src)
    assert mus["matches_checkout"] is False
    assert "probe-stale-install" in {f.rule for f in res.findings}
    assert "probe-musubi-missing" not in {f.rule for f in res.findings}
    t5 = res.data["tokenizers"]["t5"]
    assert t5["cached"] and res.data["tokenizers"]["offline"]
    assert not [f for f in res.findings if f.catalog == "tokenizer-load-failure"]
    acc = res.data["accelerate"]
    assert acc["config_file"] == str(hf / "accelerate/default_config.yaml")
    assert acc["config"] == {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "MULTI_GPU",
        "gpu_ids": "0,1",
        "mixed_precision": "bf16",
        "num_processes": "2",
        "use_cpu": "false",
    }


def test_probe_with_an_interpreter_without_torch() -> None:
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists() or sys.base_prefix == sys.prefix:
        pytest.skip("no separate base interpreter")
    res = run_probe(str(base), timeout=60)
    assert res.ok, res.findings
    if res.data["torch"]["installed"]:
        pytest.skip("the base interpreter has torch")
    rules = {f.rule for f in res.findings}
    assert {"probe-torch-missing", "probe-musubi-missing"} <= rules
    assert res.data["bitsandbytes"]["importable"] is False


def _fake(tmp_path: Path, name: str, body: str) -> str:
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return str(p)


@pytest.mark.skipif(os.name != "posix", reason="shell-script interpreters")
def test_hanging_interpreter_is_killed_with_its_group(tmp_path) -> None:
    pidfile = tmp_path / "child.pid"
    py = _fake(tmp_path, "hang", f"sleep 60 & echo $! > {pidfile}\nwait")
    t0 = time.monotonic()
    res = run_probe(py, timeout=1.5)
    assert time.monotonic() - t0 < 10
    assert not res.ok
    (f,) = res.findings
    assert f.rule == "probe-timeout" and f.severity is Severity.WARNING
    pid = int(pidfile.read_text())
    for _ in range(50):  # the grandchild went with the group
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the hanging probe's child survived")


@pytest.mark.skipif(os.name != "posix", reason="shell-script interpreters")
@pytest.mark.parametrize(
    "body,rule,text",
    [
        ("echo hello world", "probe-garbage", "hello world"),
        ("echo 'WANTUI_PROBE_JSON {not json'", "probe-garbage", "WANTUI_PROBE_JSON"),
        ("echo 'WANTUI_PROBE_JSON [1, 2]'", "probe-garbage", "WANTUI_PROBE_JSON"),
        ("echo 'SyntaxError: invalid syntax' >&2; exit 1", "probe-python-broken", "SyntaxError"),
        ("exit 3", "probe-python-broken", "status 3"),
    ],
)
def test_bad_interpreters(tmp_path, body, rule, text) -> None:
    res = run_probe(_fake(tmp_path, "py", body), timeout=10)
    assert not res.ok and res.data == {}
    (f,) = res.findings
    assert f.rule == rule and f.severity is Severity.ERROR
    assert text in f.message


def test_missing_and_unusable_interpreters(tmp_path) -> None:
    for python in (str(tmp_path / "nope/python"), "no-such-python-anywhere", str(tmp_path)):
        res = run_probe(python, timeout=5)
        assert [f.rule for f in res.findings] == ["probe-python-missing"], python
    notexec = tmp_path / "python"
    notexec.write_text("x")
    assert run_probe(str(notexec)).findings[0].rule == "probe-python-missing"
    binary = tmp_path / "binary"
    binary.write_bytes(b"\x7fELF\x00garbage")
    binary.chmod(0o755)
    assert run_probe(str(binary)).findings[0].rule == "probe-python-broken"


def test_resolve_python() -> None:
    from wantui.core.probe.runner import resolve_python

    assert resolve_python("sh") == shutil.which("sh")
    assert resolve_python(sys.executable) == sys.executable
    assert resolve_python("/nonexistent/python") is None


@pytest.mark.gpu
@pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="needs a CUDA GPU")
def test_probe_on_cuda() -> None:
    res = run_probe(sys.executable, timeout=60)
    assert res.ok
    t = res.data["torch"]
    assert t["cuda_available"] and t["cuda_build"] and t["gpus"]
    g = t["gpus"][0]
    assert g["total_bytes"] > 0 and g["free_bytes"] > 0 and g["capability"]
    assert res.data["bitsandbytes"]["cuda_ok"] is True
    assert not [f for f in res.findings if f.catalog == "no-cuda"]
