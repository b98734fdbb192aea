"""The environment probe, run for real with this venv's interpreter (CPU torch 2.13,
accelerate, bitsandbytes), and against fake interpreters that hang, babble or fail."""

from __future__ import annotations

import ast
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from tests.cli_helpers import run_wantui, start_wantui
from wantui.core.finding import Severity
from wantui.core.probe import PROBE_SCRIPT, run_probe
from wantui.core.probe.runner import MAX_STDOUT, resolve_python


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


# -- the probe's runner against interpreters that babble, flood, hang, escape their process
# group, or answer and then linger; a torch import that hangs; the probe script's syntax on
# older Pythons. Every case is a real subprocess.


posix = pytest.mark.skipif(os.name != "posix", reason="shell-script interpreters")


def _gone(pid: int, wait: float = 5.0) -> bool:
    """True when ``pid`` has exited (a zombie waiting for init to reap it counts)."""
    end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().split(") ", 1)[1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


@posix
def test_relative_interpreter_path_is_run_not_looked_up_on_path(tmp_path, monkeypatch) -> None:
    # bug: str(Path("./py")) is "py", which Popen searched on PATH: "No such file"
    _fake(tmp_path, "py", "echo hello from the wrapper")
    monkeypatch.chdir(tmp_path)
    assert resolve_python("./py") == str(tmp_path / "py")
    res = run_probe("./py", timeout=10)
    (f,) = res.findings
    assert f.rule == "probe-garbage" and "hello from the wrapper" in f.message


@posix
def test_a_flooding_interpreter_is_stopped_with_bounded_memory(tmp_path) -> None:
    # bug: communicate() kept everything; a wrapper printing 1 GB used 1.5 GB of memory
    py = _fake(tmp_path, "py", "exec yes 0123456789abcdef0123456789abcdef")
    t0 = time.monotonic()
    res = run_probe(str(py), timeout=30)
    assert time.monotonic() - t0 < 20
    (f,) = res.findings
    assert f.rule == "probe-garbage" and f.severity is Severity.ERROR
    assert f"more than {MAX_STDOUT // 1_000_000} MB" in f.message
    assert not res.ok and res.data == {}


@posix
def test_a_grandchild_outside_the_group_does_not_hang_the_probe(tmp_path) -> None:
    # bug: after killing the group, communicate() waited for EOF on pipes that a setsid'd
    # grandchild still held open: doctor hung for as long as that process lived
    pidfile = tmp_path / "escapee.pid"
    groupfile = tmp_path / "group.pid"
    py = _fake(
        tmp_path,
        "py",
        f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 30' &\n"
        f"sleep 30 & echo $! > {groupfile}\nwait",
    )
    t0 = time.monotonic()
    try:
        res = run_probe(str(py), timeout=1.5)
        took = time.monotonic() - t0
    finally:
        for _ in range(50):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            time.sleep(0.05)
        escapee = int(pidfile.read_text())
        os.kill(escapee, 9)  # ours to clean up: it left the group on purpose
    assert took < 6, took
    (f,) = res.findings
    assert f.rule == "probe-timeout"
    assert _gone(int(groupfile.read_text()))  # what stayed in the group was killed


@posix
def test_an_answer_followed_by_a_slow_exit_still_counts(tmp_path) -> None:
    # the report is printed, then the interpreter takes long to shut down (CUDA teardown)
    py = _fake(tmp_path, "py", f'"{sys.executable}" "$@"\nsleep 30')
    res = run_probe(str(py), timeout=8, fast=True)
    assert res.ok, res.findings
    assert res.data["python"]["version"]


@posix
def test_a_hanging_torch_import_still_gets_a_report(tmp_path) -> None:
    # a torch whose import never returns (a hung driver, a dead NFS mount): the script's
    # watchdog reports what it has at its budget instead of being killed silently
    fake = tmp_path / "site"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text("import time\ntime.sleep(60)\n")
    env = dict(os.environ, PYTHONPATH=str(fake))
    t0 = time.monotonic()
    res = run_probe(sys.executable, timeout=5, fast=True, env=env)
    assert time.monotonic() - t0 < 5
    assert res.ok, res.findings
    assert res.data["partial"] is True
    assert "during torch" in res.data["probe_error"]
    assert res.data["musubi"]["found"] is False  # the cheap parts were done first
    rules = {f.rule: f for f in res.findings}
    assert rules["probe-torch-slow"].severity is Severity.WARNING
    assert "probe-torch-missing" not in rules  # slow is not missing


def test_default_probe_answers_within_ten_seconds_here() -> None:
    # the real probe with this venv (CPU torch, bitsandbytes) on this loaded shared box:
    # the watchdog makes the default 10 s bound hold even when an import is slow
    t0 = time.monotonic()
    res = run_probe(sys.executable, timeout=10)
    took = time.monotonic() - t0
    assert res.ok, res.findings
    assert took < 10, took
    assert res.data["torch"].get("installed") in (True, None)
    json.dumps(res.to_json())


def test_probe_script_parses_as_python_38() -> None:
    # the pipeline's interpreter may be older than wantui's (the script says 3.8+)
    src = PROBE_SCRIPT.read_text(encoding="utf-8")
    ast.parse(src, feature_version=(3, 8))
    tree = ast.parse(src)
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Match)
        # PEP 604 unions and builtin generics in annotations would fail at runtime on 3.8
        assert not (isinstance(node, ast.arg) and node.annotation is not None)
        assert not isinstance(node, ast.AnnAssign)
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert all(n.split(".")[0] in sys.stdlib_module_names for n in names), names


def test_one_failing_part_does_not_cost_the_rest(tmp_path) -> None:
    # an HF cache that raises (permissions, a stale NFS handle): before, the exception
    # ended the whole probe and the missing torch section read as "torch not installed"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import glob\n"
        "def _boom(*a, **k):\n"
        "    raise PermissionError(13, 'Permission denied', a[0] if a else '')\n"
        "glob.glob = _boom\n"
    )
    fake_torch = site / "torch"
    fake_torch.mkdir()
    (fake_torch / "__init__.py").write_text("raise ImportError('fake torch for this test')\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    res = run_probe(sys.executable, timeout=30, fast=True, env=env)
    assert res.ok, res.findings
    assert "PermissionError" in res.data["tokenizers"]["probe_error"]
    assert res.data["torch"]["error"].startswith("ImportError")  # measured after the failure
    assert res.data["shm"] and "probe_error" not in res.data["shm"]
    rules = {f.rule for f in res.findings}
    assert "probe-torch-missing" in rules  # the real (fake) torch failure is still reported
    assert not [r for r in rules if r.startswith("probe-tokenizer")]  # nothing from a failed part


@posix
@pytest.mark.parametrize(
    "report",
    [
        '{"torch": [], "disk": {"a": 1}, "platform": 5}',
        '{"torch": {"installed": true, "cuda_available": true, "device_count": "two",'
        ' "gpus": [{"total_bytes": "x"}, 7]}, "musubi": {"found": 1}}',
        '{"python": 3, "attention": {"x": 1}, "shm": {"exists": true, "total_bytes": "big"},'
        ' "disk": [{"path": "o", "free_bytes": "lots"}, "str"]}',
    ],
)
def test_a_forged_report_of_odd_shape_never_raises(tmp_path, report) -> None:
    py = _fake(tmp_path, "py", f"echo 'WANTUI_PROBE_JSON {report}'")
    res = run_probe(str(py), timeout=10)
    assert res.findings  # either checks that ran, or one probe-garbage
    if not res.ok:
        (f,) = res.findings
        assert f.rule == "probe-garbage" and "cannot read" in f.message
    # and through doctor, text mode (the machine summary reads the report too)
    r = run_wantui("doctor", "--python", str(py), cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


@posix
def test_ctrl_c_during_the_probe_ends_the_probe_too(tmp_path) -> None:
    # the probe runs in its own session, so the terminal's SIGINT reaches only wantui;
    # before, a hung probe outlived an interrupted doctor
    import signal

    pidfile = tmp_path / "pid"
    py = _fake(tmp_path, "py", f"echo $$ > {pidfile}\nexec sleep 60")
    doctor = start_wantui(
        "doctor", "--python", str(py), "--probe-timeout", "30", cwd=tmp_path, text=False
    )
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.05)
    probe_pid = int(pidfile.read_text())
    time.sleep(0.3)  # doctor is waiting on the probe by now, even on a loaded machine
    doctor.send_signal(signal.SIGINT)
    _, err = doctor.communicate(timeout=20)
    assert doctor.returncode == 130, (doctor.returncode, err)
    assert _gone(probe_pid, wait=10), ("the probe survived an interrupted doctor", err)


def test_a_venv_python_pointing_to_a_removed_base_python(tmp_path) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to("/opt/pyenv/versions/3.10.4/bin/python3.10")
    res = run_probe(str(venv_bin / "python"), timeout=5)
    (f,) = res.findings
    assert f.rule == "probe-python-missing" and "broken symlink" in f.title
    assert "/opt/pyenv/versions/3.10.4" in f.message


@posix
def test_a_report_with_a_5000_digit_number_is_garbage_not_a_crash(tmp_path) -> None:
    py = _fake(
        tmp_path, "py", "printf 'WANTUI_PROBE_JSON {\"x\": %s}\\n' $(printf '9%.0s' $(seq 5000))"
    )
    res = run_probe(str(py), timeout=10)
    (f,) = res.findings
    assert f.rule == "probe-garbage"


def test_probe_script_has_no_syntax_newer_than_python_38() -> None:
    import shutil

    from wantui.core.probe import PROBE_SCRIPT

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff not installed")
    r = subprocess.run(
        [
            ruff,
            "check",
            "--no-cache",
            "--target-version",
            "py38",
            "--select",
            "E9",
            str(PROBE_SCRIPT),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
