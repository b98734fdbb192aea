"""QA regressions for `wantui download`: names pasted from a browser or a guide.

A `../..` spec crashed with exit 3 (the hub client's validation error), a `..` inside the
file path went to the hub as is, and the file URL users copy from the hub's web page was
"unknown". Downloads run the real CLI against tests/hubserver.py on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hubserver import HubServer

pytestmark = pytest.mark.timeout(60)

REPO = "Wan-AI/Wan2.1-I2V-14B-720P"


def wantui(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wantui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=40,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    # nothing here may reach the network: an unreachable endpoint for the refusals
    e.update(
        NO_COLOR="1",
        HF_ENDPOINT="http://127.0.0.1:9",
        HF_HUB_DISABLE_XET="1",
        HF_HOME=str(tmp_path / "hfhome"),
    )
    return e


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
    tmp_path: Path, env: dict[str, str], spec: str, needle: str
) -> None:
    proc = wantui("download", spec, "--dest", str(tmp_path / "m"), cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and needle in proc.stderr, proc.stderr
    assert not (tmp_path / "m").exists()  # refused before anything is created


def test_browser_url_downloads_the_file(tmp_path: Path, env: dict[str, str]) -> None:
    data = os.urandom(100_000)
    with HubServer(max_life=40) as hub:
        hub.add(REPO, "models_t5_umt5-xxl-enc-bf16.pth", data)
        env["HF_ENDPOINT"] = hub.endpoint
        url = (
            f"https://huggingface.co/{REPO}/blob/main/models_t5_umt5-xxl-enc-bf16.pth?download=true"
        )
        proc = wantui("download", url, "--dest", str(tmp_path / "models"), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "models" / "models_t5_umt5-xxl-enc-bf16.pth").read_bytes() == data
