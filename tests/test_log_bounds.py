"""The log reader's bounds (issue 10 #14): grep's memory does not grow with the longest
line (a 1 GB single-line log cost 2.1 GB), and a log that starts with NULs (logrotate's
copytruncate) is read as a log, not refused as binary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wantui.core.logtext import bounded_lines

OOM = b"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
BAR = b"\rsteps:  35%|###5      | 14/40 [00:08<00:16,  1.59it/s, avr_loss=0.1652]"
LINE_MB = 64
RSS_BOUND_MB = 100


def _diagnose(log: Path, *, grep: bool, timeout: float = 120) -> dict:
    """`wantui diagnose --json` in a child that reports its own and its children's
    (grep's) peak RSS."""
    child = (
        "import contextlib, io, json, resource, sys\n"
        "from wantui.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    rc = main(['diagnose', '--json', sys.argv[1]])\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would report the
        # forking pytest process's size, which grows with the tests run before this one
        "self_mb = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]) // 1024\n"
        "kids_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
        "print(json.dumps({'rc': rc, 'out': out.getvalue(), 'self_mb': self_mb, 'grep_mb': kids_mb}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    if not grep:
        env["WANTUI_NO_GREP"] = "1"
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
@pytest.mark.skipif(
    shutil.which("grep") is None or sys.platform != "linux", reason="grep, ru_maxrss"
)
def test_grep_memory_is_bounded_on_a_single_line_log(tmp_path: Path, capsys) -> None:
    log = tmp_path / "flood.log"
    with log.open("wb") as fh:
        fh.write(b"INFO: start\n")
        piece = BAR * ((1 << 20) // len(BAR))
        for _ in range(LINE_MB):
            fh.write(piece)  # tqdm redraws with \r and never a newline: one 64 MB line
        fh.write(b"\n" + OOM)
    small = tmp_path / "small.log"
    small.write_bytes(b"INFO: start\n" + OOM)
    base = _diagnose(small, grep=True)["self_mb"]  # the interpreter and wantui's imports
    report = _diagnose(log, grep=True)
    with capsys.disabled():
        print(
            f"\n{LINE_MB} MB single line via grep: wantui peak {report['self_mb']} MB"
            f" ({base} MB for a 2-line log), grep peak {report['grep_mb']} MB"
        )
    assert report["rc"] == 1 and "cuda-oom" in _rules(report), report["out"][:500]
    assert report["grep_mb"] < RSS_BOUND_MB, report
    assert report["self_mb"] < base + 40, report


def test_bounded_lines_cuts_long_lines_and_keeps_every_newline() -> None:
    chunks = [b"a" * 10, b"b" * 10 + b"\nshort\n" + b"c" * 3, b"c" * 20, b"\nend"]
    out = b"".join(bounded_lines(iter(chunks), limit=15))
    assert out == b"a" * 10 + b"b" * 5 + b"\nshort\n" + b"c" * 15 + b"\nend"
    assert out.count(b"\n") == b"".join(chunks).count(b"\n")


@pytest.mark.parametrize("grep", [True, False])
@pytest.mark.parametrize("padding", [100, 20_000, 3 << 20])
def test_log_starting_with_nuls_is_a_log(tmp_path: Path, grep: bool, padding: int) -> None:
    if grep and shutil.which("grep") is None:
        pytest.skip("no grep")
    log = tmp_path / "train.log"
    log.write_bytes(b"\x00" * padding + b"INFO: resumed after copytruncate\n" + OOM)
    report = _diagnose(log, grep=grep)
    assert report["rc"] == 1 and "cuda-oom" in _rules(report), report["out"][:500]
    evidence = json.loads(report["out"])["findings"][0]["evidence"]
    assert evidence[0]["line"] == 2  # the NULs hold no newline: numbers are the file's


@pytest.mark.parametrize("grep", [True, False])
def test_nuls_inside_the_text_still_mean_binary(tmp_path: Path, grep: bool) -> None:
    log = tmp_path / "model.bin"
    log.write_bytes(b"PK\x03\x04" + b"\x00\x01\x02" * 100 + OOM)
    report = _diagnose(log, grep=grep)
    assert report["rc"] == 2
