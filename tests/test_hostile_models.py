"""Hostile model files (issue 10 #10): each is ``corrupt``, in bounded memory, and a
folder scan goes on past it."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from modelfactory import lora_tensors, write_safetensors  # noqa: E402

from wantui.cli.main import main
from wantui.core.models import inspect_file

# the child's peak RSS may exceed the same child's on a valid file by this much at most
# (the 141-byte memo bomb cost 777 MB before)
EXTRA_MB = 60
AS_LIMIT = 1 << 30  # and it runs under a 1 GiB address-space cap, to protect the machine


def pth(path: Path, pkl: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", pkl)
    return path


def memo_bomb(path: Path) -> Path:
    """141 bytes: LONG_BINPUT 50 million grows the C unpickler's memo to ~800 MB."""
    return pth(path, b"\x80\x02}r" + struct.pack("<I", 50_000_000) + b".")


def bytes8_bomb(path: Path) -> Path:
    return pth(path, b"\x80\x04\x8e" + struct.pack("<Q", 800_000_000) + b"xx.")


def frame_bomb(path: Path) -> Path:
    return pth(path, b"\x80\x04\x95" + struct.pack("<Q", 800_000_000) + b"}.")


def subbyte_huge(path: Path, dtype: str) -> Path:
    header = {"w": {"dtype": dtype, "shape": [2**600, 2**600], "data_offsets": [0, 8]}}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * 8)
    return path


@pytest.mark.parametrize("dtype", ["F6_E2M3", "F6_E3M2", "F4", "BF16"])
def test_huge_shape_of_any_dtype_is_corrupt_not_an_overflow(tmp_path: Path, dtype: str) -> None:
    info = inspect_file(subbyte_huge(tmp_path / "m.safetensors", dtype))
    assert info.kind == "corrupt", info.details
    assert "10^" in info.details["reason"]


_BASE: list[int] = []


def _peak(f: Path) -> dict:
    """inspect_file(f) in a child under a 1 GiB address-space cap: verdict and peak RSS."""
    child = (
        "import json, resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({AS_LIMIT}, {AS_LIMIT}))\n"
        "from wantui.core.models import inspect_file\n"
        "info = inspect_file(sys.argv[1])\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would report the
        # forking pytest process's size, which grows with the tests run before this one
        "peak = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]) // 1024\n"
        "print(json.dumps({'kind': info.kind, 'reason': info.details.get('reason'), 'peak_mb': peak}))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", child, str(f)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)


def _baseline_mb(tmp_path: Path) -> int:
    """Peak RSS of the same child inspecting a small valid file: the interpreter and
    wantui's imports, which grow with the project, not with the file."""
    if not _BASE:
        ok = write_safetensors(tmp_path / "ok.safetensors", lora_tensors(rank=4, dim=64, layers=1))
        _BASE.append(_peak(ok)["peak_mb"])
    return _BASE[0]


@pytest.mark.parametrize("make", [memo_bomb, bytes8_bomb, frame_bomb])
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and ru_maxrss in KiB")
def test_pickle_bombs_are_corrupt_in_bounded_memory(tmp_path: Path, make) -> None:
    f = make(tmp_path / "bomb.pth")
    assert f.stat().st_size < 400
    out = _peak(f)
    assert out["kind"] == "corrupt", out
    assert "MemoryError" not in out["reason"], out  # refused, not saved by the cap
    base = _baseline_mb(tmp_path)
    assert out["peak_mb"] < base + EXTRA_MB, out
    print(
        f"{make.__name__}: {f.stat().st_size} bytes -> corrupt, peak RSS {out['peak_mb']} MB"
        f" ({base} MB for a valid file)"
    )


def test_inspect_dir_goes_on_past_bad_files(tmp_path: Path, capsys) -> None:
    d = tmp_path / "models"
    d.mkdir()
    memo_bomb(d / "a_bomb.pth")
    subbyte_huge(d / "b_f6.safetensors", "F6_E2M3")
    bytes8_bomb(d / "c_bytes8.pt")
    write_safetensors(d / "d_lora.safetensors", lora_tensors(rank=4, dim=64, layers=1))
    code = main(["inspect", str(d), "--json"])
    rows = json.loads(capsys.readouterr().out)["files"]
    assert code == 1
    kinds = {Path(r["path"]).name: r["kind"] for r in rows}
    assert kinds.pop("d_lora.safetensors") != "corrupt"
    assert set(kinds.values()) == {"corrupt"} and len(kinds) == 3, kinds
