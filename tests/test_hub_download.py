"""The real huggingface_hub client against a local hub look-alike (tests/hubserver.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.cli_helpers import run_wantui
from tests.hubserver import HubServer
from wantui.core.errors import WantuiError
from wantui.core.hub import CATALOG, download, resolve_spec
from wantui.core.hub.download import PARTIAL_DIR

REPO = "Wan-AI/Wan2.1-I2V-14B-720P"
T5 = "models_t5_umt5-xxl-enc-bf16.pth"
SECRET = "hf_testtokenDONOTPRINT1234567890"
# over the client's 10 MiB read chunk, so that a cut transfer has bytes to resume from
PAYLOAD = os.urandom(24 * 1024 * 1024 + 12345)
CHUNK = 10 * 1024 * 1024


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = HubServer(max_life=60).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hfhome"))  # no saved login here
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server.add(REPO, T5, PAYLOAD)
    yield server
    server.stop()


def test_catalog_has_the_files_musubi_needs():
    files = {(f.repo, f.filename) for f in CATALOG.values()}
    assert (REPO, T5) in files
    assert (REPO, "Wan2.1_VAE.pth") in files
    assert (
        "Comfy-Org/Wan_2.1_ComfyUI_repackaged",
        "split_files/vae/wan_2.1_vae.safetensors",
    ) in files
    assert (REPO, "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth") in files
    for side in ("low", "high"):
        for fam in ("t2v", "i2v"):
            name = f"split_files/diffusion_models/wan2.2_{fam}_{side}_noise_14B_fp16.safetensors"
            assert ("Comfy-Org/Wan_2.2_ComfyUI_Repackaged", name) in files
    assert resolve_spec(f"{REPO}/{T5}").name == "t5"
    with pytest.raises(WantuiError, match="unknown file"):
        resolve_spec("nonsense")


def test_download_verifies_and_places_atomically(hub, tmp_path):
    seen = []
    dest = tmp_path / "models"
    path = download("t5", dest, progress=seen.append)
    assert path == dest / T5
    assert path.read_bytes() == PAYLOAD
    assert not (dest / PARTIAL_DIR).exists()
    phases = [p.phase for p in seen]
    assert "download" in phases and "verify" in phases and phases[-1] == "done"
    last_dl = [p for p in seen if p.phase == "download"][-1]
    assert last_dl.done == len(PAYLOAD) and last_dl.total == len(PAYLOAD)
    assert "MB" in last_dl.describe()
    # the client followed the hub's LFS redirect to the CDN
    assert any(path.startswith("/cdn/") for _, path, _ in hub.state.requests)
    # a second call finds the file intact and downloads nothing
    sent = hub.state.bytes_sent
    assert download("t5", dest) == path
    assert hub.state.bytes_sent == sent


def test_cut_transfer_is_resumed_by_range(hub, tmp_path):
    hub.state.cut_after = CHUNK + CHUNK // 2
    hub.state.cuts = 1
    path = download("t5", tmp_path / "m")
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(PAYLOAD).digest()
    # the client kept the first full chunk and asked only for the rest
    assert hub.state.ranges == [f"bytes={CHUNK}-"]


def test_interrupted_download_resumes_in_a_new_call(hub, tmp_path):
    dest = tmp_path / "m"

    def stop_midway(p):
        if p.phase == "download" and p.done > 1024 * 1024:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download("t5", dest, progress=stop_midway)
    parts = list((dest / PARTIAL_DIR).iterdir())
    assert len(parts) == 1 and 0 < parts[0].stat().st_size < len(PAYLOAD)
    kept = parts[0].stat().st_size
    assert not (dest / T5).exists()
    path = download("t5", dest)
    assert path.read_bytes() == PAYLOAD
    assert hub.state.ranges[-1] == f"bytes={kept}-"


def test_killed_process_resumes(hub, tmp_path):
    """A real SIGKILL of a downloading process; the next process resumes from its part."""
    dest = tmp_path / "m"
    code = (
        "import os, signal\n"
        "from wantui.core.hub import download\n"
        "def cb(p):\n"
        "    if p.phase == 'download' and p.done > 600 * 1024:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        f"download('t5', {str(dest)!r}, progress=cb)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, timeout=60
    )
    assert proc.returncode == -9
    kept = next((dest / PARTIAL_DIR).iterdir()).stat().st_size
    assert kept > 0
    path = download("t5", dest)
    assert path.read_bytes() == PAYLOAD
    assert hub.state.ranges[-1] == f"bytes={kept}-"


def test_wrong_checksum_is_refused_and_deleted(hub, tmp_path):
    hub.state.wrong_sha = True
    dest = tmp_path / "m"
    with pytest.raises(WantuiError, match="checksum mismatch"):
        download("t5", dest)
    assert not (dest / T5).exists()
    assert not any((dest / PARTIAL_DIR).glob("*.part"))


def test_missing_file_and_repo_are_one_line(hub, tmp_path):
    with pytest.raises(WantuiError) as exc:
        download(f"{REPO}/no_such_file.pth", tmp_path)
    assert str(exc.value) == f"{REPO} has no file no_such_file.pth"
    with pytest.raises(WantuiError) as exc:
        download("nobody/nothing/file.bin", tmp_path)
    assert "repository nobody/nothing not found" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_gated_repo_explained_and_token_sent_not_printed(hub, tmp_path, monkeypatch, capsys):
    hub.add("gated/repo", "w.safetensors", b"x" * 100)
    hub.state.gated.add("gated/repo")
    with pytest.raises(WantuiError) as exc:
        download("gated/repo/w.safetensors", tmp_path)
    assert "gated" in str(exc.value) and "HF_TOKEN" in str(exc.value)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with pytest.raises(WantuiError) as exc:
        download("gated/repo/w.safetensors", tmp_path)
    assert "your token has no access" in str(exc.value)
    assert SECRET not in str(exc.value)
    assert any(h.get("authorization") == f"Bearer {SECRET}" for _, _, h in hub.state.requests)
    # a normal download sends it to the hub, never to the CDN host, never to the output
    download("t5", tmp_path / "m")
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    cdn = [h for _, path, h in hub.state.requests if path.startswith("/cdn/")]
    assert cdn and all("authorization" not in h for h in cdn)


def test_offline_mode_is_honoured(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(hub.state.requests)
    with pytest.raises(WantuiError, match="HF_HUB_OFFLINE=1 is set"):
        download("t5", tmp_path)
    assert len(hub.state.requests) == before  # not one request


def test_not_enough_space_is_checked_before_starting(hub, tmp_path, monkeypatch):
    import importlib

    dl = importlib.import_module("wantui.core.hub.download")
    monkeypatch.setattr(dl, "free_space", lambda folder: 1000)
    with pytest.raises(WantuiError, match="not enough disk space"):
        download("t5", tmp_path / "m")
    assert not any(
        path.startswith("/cdn/") for method, path, _ in hub.state.requests if method == "GET"
    )


@pytest.fixture
def small_fs(tmp_path):
    """A 1 MiB tmpfs (root only); skipped where mount is not allowed."""
    mnt = tmp_path / f"small-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.decode(errors='replace').strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_real_filesystem_precheck(hub, small_fs):
    with pytest.raises(WantuiError, match="not enough disk space"):
        download("t5", small_fs)
    assert not (small_fs / T5).exists()


def test_full_disk_while_writing(hub, small_fs):
    hub.state.hide_size = True  # no size up front: the disk fills during the transfer
    with pytest.raises(WantuiError) as exc:
        download("t5", small_fs)
    assert "disk full" in str(exc.value)
    assert not (small_fs / T5).exists()


def test_cli_download(hub, tmp_path):
    r = run_wantui("download", "t5", "--dest", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "m" / T5)
    r = run_wantui("download", f"{REPO}/nope.pth", "--dest", str(tmp_path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = run_wantui("download", "--list", "--json")
    assert r.returncode == 0 and '"t5"' in r.stdout


def _interrupted_part(hub, dest) -> tuple[object, int]:
    def stop_midway(p):
        if p.phase == "download" and p.done > 3 * 1024 * 1024:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(f"{REPO}/{T5}", dest, progress=stop_midway)
    (part,) = list((dest / PARTIAL_DIR).iterdir())
    return part, part.stat().st_size


@pytest.mark.parametrize("where", ["head", "tail", "all"])
def test_corrupted_partial_without_sha256_is_not_resumed(hub, tmp_path, where):
    """No sha256 from the hub (a non-LFS file): a partial file damaged since the cut used
    to be resumed and its wrong bytes moved into place with exit 0."""
    hub.state.lfs = False  # served directly, ETag a git sha1: no checksum to verify with
    dest = tmp_path / "m"
    part, kept = _interrupted_part(hub, dest)
    data = bytearray(part.read_bytes())
    if where == "head":
        data[10:20] = b"X" * 10
    elif where == "tail":
        data[-5:] = b"XXXXX"
    else:
        data[:] = os.urandom(len(data))  # another file's bytes under this name
    part.write_bytes(bytes(data))
    path = download(f"{REPO}/{T5}", dest)
    assert path.read_bytes() == PAYLOAD
    assert hub.state.ranges[-1] != f"bytes={kept}-"  # not resumed: fetched again from 0


def test_intact_partial_without_sha256_is_resumed(hub, tmp_path):
    hub.state.lfs = False
    dest = tmp_path / "m"
    _part, kept = _interrupted_part(hub, dest)
    path = download(f"{REPO}/{T5}", dest)
    assert path.read_bytes() == PAYLOAD
    assert hub.state.ranges[-1] == f"bytes={kept}-"
    checks = [r for r in hub.state.ranges if not r.endswith("-")]
    assert checks and checks[0] == "bytes=0-262143"  # the start and the end were compared


def test_linked_partial_folder_or_file_is_refused(hub, tmp_path):
    """#10: a models folder from elsewhere whose .wantui-partial (or its .part file)
    is a link: GBs would be appended wherever it points. Refused, nothing written there."""
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / PARTIAL_DIR).symlink_to(outside)
    with pytest.raises(WantuiError, match="symlink"):
        download("t5", dest)
    assert list(outside.iterdir()) == [] and not (dest / T5).exists()
    (dest / PARTIAL_DIR).unlink()
    victim = outside / "victim"
    victim.write_bytes(b"mine\n")

    def stop(p):  # a real partial file first: its name is the one a resume opens
        if p.phase == "download" and p.done > 1024 * 1024:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download("t5", dest, progress=stop)
    (part,) = list((dest / PARTIAL_DIR).iterdir())
    part.unlink()
    part.symlink_to(victim)
    with pytest.raises(WantuiError, match="symlink"):
        download("t5", dest)
    assert victim.read_bytes() == b"mine\n"


# -- names pasted from a browser or a guide, through the real CLI ---------------------------
# A `../..` spec crashed with exit 3 (the hub client's validation error), a `..` inside the
# file path went to the hub as is, and the file URL users copy from the hub's web page was
# "unknown".


@pytest.fixture
def hub_env(tmp_path: Path) -> dict[str, str]:
    # nothing here may reach the network: an unreachable endpoint for the refusals
    return {
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(tmp_path / "hfhome"),
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("../../etc/passwd", "not a hub repository id"),
        ("Wan-AI/Wan2.1-T2V-1.3B/../../x", "not a file path inside a repository"),
        ("Wan-AI/Wan2.1-T2V-1.3B/a\\b", "not a file path inside a repository"),
        (".bad/repo/file.pth", "not a hub repository id"),
        ("a--b/repo/file.pth", "not a hub repository id"),
        (
            f"https://huggingface.co/{REPO}/resolve/abc123/models_t5_umt5-xxl-enc-bf16.pth",
            "--revision abc123",
        ),
    ],
)
def test_bad_specs_are_one_line_usage_errors(
    tmp_path: Path, hub_env: dict[str, str], spec: str, needle: str, wantui_cli
) -> None:
    proc = wantui_cli(
        "download", spec, "--dest", str(tmp_path / "m"), cwd=tmp_path, env=hub_env, timeout=40
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and needle in proc.stderr, proc.stderr
    assert not (tmp_path / "m").exists()  # refused before anything is created


@pytest.mark.timeout(60)
def test_browser_url_downloads_the_file(
    tmp_path: Path, hub_env: dict[str, str], wantui_cli
) -> None:
    data = os.urandom(100_000)
    with HubServer(max_life=40) as hub:
        hub.add(REPO, "models_t5_umt5-xxl-enc-bf16.pth", data)
        hub_env["HF_ENDPOINT"] = hub.endpoint
        url = (
            f"https://huggingface.co/{REPO}/blob/main/models_t5_umt5-xxl-enc-bf16.pth?download=true"
        )
        proc = wantui_cli(
            "download",
            url,
            "--dest",
            str(tmp_path / "models"),
            cwd=tmp_path,
            env=hub_env,
            timeout=40,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "models" / "models_t5_umt5-xxl-enc-bf16.pth").read_bytes() == data
