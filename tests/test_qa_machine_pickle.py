"""QA of the restricted unpickler behind `.pth` inspection: hostile, random and mutated
pickles never run anything, never raise anything but CorruptFile/NotAModelFile, and stay
bounded in time and memory (huge lists, deep nesting, oversized data.pkl)."""

from __future__ import annotations

import collections
import pickle
import time
import tracemalloc
import zipfile
from pathlib import Path

import modelfactory as mf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wantui.core.models import CorruptFile, NotAModelFile, inspect_file
from wantui.core.models import pth as pthmod
from wantui.core.models.pth import MAX_PICKLE_BYTES, read_pth_header

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
