"""Hostile model files (issue 10 #10): each is ``corrupt``, in bounded memory, and a
folder scan goes on past it."""

from __future__ import annotations

import collections
import json
import os
import pickle
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import modelfactory as mf  # noqa: E402
from modelfactory import lora_tensors, write_safetensors  # noqa: E402

from wantui.cli.main import main
from wantui.core.models import CorruptFile, NotAModelFile, inspect_file
from wantui.core.models import pth as pthmod
from wantui.core.models.pth import MAX_PICKLE_BYTES, read_pth_header

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


# -- the restricted unpickler behind `.pth` inspection: hostile, random and mutated pickles
# never run anything, never raise anything but CorruptFile/NotAModelFile, and stay bounded
# in time and memory (huge lists, deep nesting, oversized data.pkl).


SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _zip(path: Path, pkl: bytes, extra: dict[str, bytes] | None = None) -> Path:
    """A torch.save-shaped zip around ``pkl`` (archive/data.pkl + storages)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


def _read(path: Path):
    """read_pth_header, allowing only its two documented exceptions."""
    try:
        return read_pth_header(path)
    except (CorruptFile, NotAModelFile) as exc:
        assert "\n" not in str(exc)
        return exc


@pytest.fixture(scope="module")
def real_pth(tmp_path_factory) -> tuple[bytes, dict[str, bytes]]:
    """data.pkl and storages of a real torch.save of a Wan VAE state dict."""
    pytest.importorskip("torch")
    p = mf.write_pth(tmp_path_factory.mktemp("pth") / "vae.pth", mf.vae_tensors())
    with zipfile.ZipFile(p) as z:
        names = z.namelist()
        pkl_name = next(n for n in names if n.endswith("/data.pkl"))
        prefix = pkl_name[: -len("data.pkl")]
        storages = {
            "archive/" + n[len(prefix) :]: z.read(n)
            for n in names
            if n.startswith(prefix + "data/")
        }
        return z.read(pkl_name), storages


class _Boom:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_hostile_globals_never_run(tmp_path) -> None:
    marker = tmp_path / "PWNED"
    payloads = [pickle.dumps(_Boom(marker), protocol=p) for p in (0, 2, 4, 5)] + [
        pickle.dumps({"state_dict": {"w": _Boom(marker)}}, protocol=2),
        # builtins.eval / exec and subprocess through REDUCE, by hand
        b"cbuiltins\neval\n(Vopen(%r, 'w')\ntR." % str(marker).encode(),
        b"cbuiltins\nexec\n(Vopen(%r, 'w')\ntR." % str(marker).encode(),
        b"csubprocess\ncall\n((Vtouch\nV%s\nltR." % str(marker).encode(),
    ]
    for i, pkl in enumerate(payloads):
        got = _read(_zip(tmp_path / f"{i}.pth", pkl))
        assert isinstance(got, (CorruptFile, NotAModelFile)), got
    assert not marker.exists()


def test_build_cannot_alter_our_module(tmp_path) -> None:
    # BUILD sets attributes on what find_class returned: it must be a fresh object
    pkls = [
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}X\x04\x00\x00\x00evilK\x01sb.",
        b"\x80\x02ccollections\nOrderedDict\nN}X\x04\x00\x00\x00evilK\x01s\x86b.",
    ]
    for i, pkl in enumerate(pkls):
        _read(_zip(tmp_path / f"{i}.pth", pkl))
    assert not hasattr(pthmod._rebuild_tensor_v2, "evil")
    assert not hasattr(collections.OrderedDict, "evil")


def test_huge_list_is_bounded(tmp_path) -> None:
    n = (MAX_PICKLE_BYTES - 16) // 2
    pkl = b"\x80\x02](" + b"K\x01" * (n - 4) + b"e."  # ~8 million list items
    p = _zip(tmp_path / "list.pth", pkl)
    tracemalloc.start()
    t0 = time.monotonic()
    got = _read(p)
    took = time.monotonic() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert isinstance(got, NotAModelFile)
    assert peak < 400_000_000, peak
    assert took < 20, took
    # one byte over the cap: refused before unpickling
    big = _zip(tmp_path / "big.pth", b"\x80\x02" + b"N" * MAX_PICKLE_BYTES + b".")
    assert isinstance(_read(big), CorruptFile)


def test_deep_nesting_is_bounded(tmp_path) -> None:
    depth = 200_000
    lists = b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."
    key = b"X\x05\x00\x00\x00model"
    dicts = b"\x80\x02" + (b"}" + key) * depth + b"}" + b"s" * depth + b"."
    for name, pkl in (("lists", lists), ("dicts", dicts)):
        t0 = time.monotonic()
        got = _read(_zip(tmp_path / f"{name}.pth", pkl))
        assert isinstance(got, (CorruptFile, NotAModelFile)), (name, got)
        assert time.monotonic() - t0 < 20
    # and through inspect_file: a kind and a reason, never an exception
    info = inspect_file(tmp_path / "dicts.pth")
    assert info.kind in ("unknown", "corrupt") and info.details["reason"]


@SETTINGS
@given(data=st.binary(max_size=400))
def test_random_pickles(tmp_path, data) -> None:
    for head in (b"", b"\x80\x02", b"\x80\x04"):
        got = _read(_zip(tmp_path / "r.pth", head + data))
        assert isinstance(got, (CorruptFile, NotAModelFile)) or got.format == "pth"


@SETTINGS
@given(
    cuts=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.sampled_from("flip ins del")),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_real_pickles(tmp_path, real_pth, cuts) -> None:
    pkl, storages = real_pth
    buf = bytearray(pkl)
    for pos, byte, how in cuts:
        i = pos % (len(buf) + 1)
        if how == "flip" and i < len(buf):
            buf[i] = byte
        elif how == "ins":
            buf[i:i] = bytes([byte])
        elif how == "del":
            del buf[i : i + 1 + byte % 8]
    got = _read(_zip(tmp_path / "m.pth", bytes(buf), storages))
    assert isinstance(got, (CorruptFile, NotAModelFile)) or got.format == "pth"


def test_unmutated_real_pickle_reads(tmp_path, real_pth) -> None:
    pkl, storages = real_pth
    h = read_pth_header(_zip(tmp_path / "ok.pth", pkl, storages))
    assert len(h.tensors) == 194 and h.nested == ""


def test_truncated_zips(tmp_path, real_pth) -> None:
    pkl, storages = real_pth
    whole = _zip(tmp_path / "w.pth", pkl, storages).read_bytes()
    for cut in range(0, len(whole), max(1, len(whole) // 60)):
        p = tmp_path / "t.pth"
        p.write_bytes(whole[:cut])
        info = inspect_file(p)
        assert info.kind in ("corrupt", "unknown", "wan-vae"), (cut, info)
        assert info.kind != "wan-vae" or cut == 0 or info.details


def test_storage_bytes_are_never_read(tmp_path, real_pth, monkeypatch) -> None:
    pkl, storages = real_pth
    p = _zip(tmp_path / "s.pth", pkl, storages)
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *a, **k):
        opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, *a, **k)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    read_pth_header(p)
    assert opened == ["archive/data.pkl"]
