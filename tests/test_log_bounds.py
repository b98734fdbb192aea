"""The log reader's bounds (issue 10 #14): memory does not grow with the longest line (a
1 GB single-line log cost 2.1 GB through grep), and a log that starts with NULs
(logrotate's copytruncate) is read as a log, not refused as binary. Both engines: RE2 and
the plain-Python fallback (WANTUI_RE2=0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OOM = b"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
BAR = b"\rsteps:  35%|###5      | 14/40 [00:08<00:16,  1.59it/s, avr_loss=0.1652]"
LINE_MB = 64


def _diagnose(log: Path, *, re2: bool, timeout: float = 120) -> dict:
    """`wantui diagnose --json` in a child that reports its own peak RSS."""
    child = (
        "import contextlib, io, json, resource, sys\n"
        "from wantui.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    rc = main(['diagnose', '--json', sys.argv[1]])\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would report the
        # forking pytest process's size, which grows with the tests run before this one
        "self_mb = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]) // 1024\n"
        "print(json.dumps({'rc': rc, 'out': out.getvalue(), 'self_mb': self_mb}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    if not re2:
        env["WANTUI_RE2"] = "0"
    res = subprocess.run(
        [sys.executable, "-c", child, str(log)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def _rules(report: dict) -> list[str]:
    return [f["rule"] for f in json.loads(report["out"])["findings"]]


@pytest.mark.timeout(180)
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB")
def test_memory_is_bounded_on_a_single_line_log(tmp_path: Path, capsys) -> None:
    log = tmp_path / "flood.log"
    with log.open("wb") as fh:
        fh.write(b"INFO: start\n")
        piece = BAR * ((1 << 20) // len(BAR))
        for _ in range(LINE_MB):
            fh.write(piece)  # tqdm redraws with \r and never a newline: one 64 MB line
        fh.write(b"\n" + OOM)
    small = tmp_path / "small.log"
    small.write_bytes(b"INFO: start\n" + OOM)
    base = _diagnose(small, re2=True)["self_mb"]  # the interpreter and wantui's imports
    report = _diagnose(log, re2=True)
    with capsys.disabled():
        print(
            f"\n{LINE_MB} MB single line: wantui peak {report['self_mb']} MB"
            f" ({base} MB for a 2-line log)"
        )
    assert report["rc"] == 1 and "cuda-oom" in _rules(report), report["out"][:500]
    assert report["self_mb"] < base + 40, report


@pytest.mark.parametrize("re2", [True, False])
@pytest.mark.parametrize("padding", [100, 20_000, 3 << 20])
def test_log_starting_with_nuls_is_a_log(tmp_path: Path, re2: bool, padding: int) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"\x00" * padding + b"INFO: resumed after copytruncate\n" + OOM)
    report = _diagnose(log, re2=re2)
    assert report["rc"] == 1 and "cuda-oom" in _rules(report), report["out"][:500]
    evidence = json.loads(report["out"])["findings"][0]["evidence"]
    assert evidence[0]["line"] == 2  # the NULs hold no newline: numbers are the file's


@pytest.mark.parametrize("re2", [True, False])
def test_nuls_inside_the_text_still_mean_binary(tmp_path: Path, re2: bool) -> None:
    log = tmp_path / "model.bin"
    log.write_bytes(b"PK\x03\x04" + b"\x00\x01\x02" * 100 + OOM)
    report = _diagnose(log, re2=re2)
    assert report["rc"] == 2
