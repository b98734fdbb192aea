"""Model inspection on files in the real Wan shapes (sparse safetensors, small torch.save zips)."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import modelfactory as mf
import pytest
import safetensors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_helpers import cli_env, run_wantui
from wantui.cli.main import main
from wantui.core.models import inspect_file, scan_models


def _write(tmp_path: Path, name: str, tensors, metadata=None) -> Path:
    return mf.write_safetensors(tmp_path / name, tensors, metadata)


DIT_CASES = [
    # name, factory args, params, family, version, dtype, tensor count (docs/reference/wan-facts.md §4.3)
    ("t2v13.safetensors", dict(params="1.3B", family="t2v"), "1.3B", "t2v", "2.1", "bf16", 825),
    ("t2v14.safetensors", dict(params="14B", family="t2v"), "14B", "t2v", None, "bf16", 1095),
    (
        "i2v14.safetensors",
        dict(params="14B", family="i2v", dtype="F16"),
        "14B",
        "i2v",
        "2.1",
        "fp16",
        1303,
    ),
    (
        "i2vA14.safetensors",
        dict(params="14B", family="i2v-A14B"),
        "14B",
        "i2v",
        "2.2",
        "bf16",
        1095,
    ),
    ("flf.safetensors", dict(params="14B", family="flf2v"), "14B", "flf2v", "2.1", "bf16", 1304),
    (
        "fc14.safetensors",
        dict(params="14B", family="fc"),
        "14B",
        "fun-control",
        "2.1",
        "bf16",
        1303,
    ),
    ("ti2v.safetensors", dict(params="5B", family="ti2v"), "5B", "ti2v", "2.2", "bf16", 825),
    (
        "fp32.safetensors",
        dict(params="1.3B", family="t2v", dtype="F32"),
        "1.3B",
        "t2v",
        "2.1",
        "fp32",
        825,
    ),
    (
        "fp8.safetensors",
        dict(params="14B", family="t2v", fp8=True),
        "14B",
        "t2v",
        None,
        "fp8_e4m3fn",
        1095,
    ),
]


@pytest.mark.parametrize("name,kw,params,family,version,dtype,count", DIT_CASES)
def test_dit_fingerprints(tmp_path, name, kw, params, family, version, dtype, count) -> None:
    p = _write(tmp_path, name, mf.dit_tensors(**kw))
    info = inspect_file(p)
    assert info.kind == "wan-dit"
    assert info.details["params"] == params
    assert info.details["family"] == family
    assert info.details["wan_version"] == version
    assert info.dtype == dtype
    assert info.tensors == count
    j = info.to_json()
    assert {"path", "kind", "dtype", "details"} <= j.keys()
    json.dumps(j)  # serialisable


def test_dit_real_size_is_what_the_hub_file_weighs(tmp_path) -> None:
    # Wan2.1 T2V 14B bf16 is ~28.6 GB; the sparse stand-in declares exactly its bytes
    info = inspect_file(_write(tmp_path, "a.safetensors", mf.dit_tensors("14B", "t2v")))
    assert 28.4e9 < info.size < 28.8e9


def test_wan22_t2v_told_by_file_name_only(tmp_path) -> None:
    p = _write(
        tmp_path,
        "wan2.2_t2v_low_noise_14B_fp16.safetensors",
        mf.dit_tensors("14B", "t2v", dtype="F16"),
    )
    info = inspect_file(p)
    assert info.details["wan_version"] == "2.2"
    assert info.details["suggested_task"] == "t2v-A14B"
    assert "t2v-14B" in info.details["tasks"]  # the same keys load under the 2.1 task
    p = _write(tmp_path, "wan2.1_t2v_14B_bf16.safetensors", mf.dit_tensors("14B", "t2v"))
    assert inspect_file(p).details["wan_version"] == "2.1"
    assert inspect_file(p).details["suggested_task"] == "t2v-14B"


def test_dit_prefixes(tmp_path) -> None:
    ok = inspect_file(
        _write(tmp_path, "a.safetensors", mf.dit_tensors("1.3B", prefix="model.diffusion_model."))
    )
    assert ok.details["prefix"] == "model.diffusion_model."
    assert not any("prefix" in n for n in ok.notes)
    bad = inspect_file(
        _write(tmp_path, "b.safetensors", mf.dit_tensors("1.3B", prefix="diffusion_model."))
    )
    assert bad.kind == "wan-dit" and bad.details["prefix"] == "diffusion_model."
    assert any("not accepted" in n for n in bad.notes)


def test_bundled_checkpoint(tmp_path) -> None:
    t = mf.dit_tensors("1.3B", prefix="model.diffusion_model.")
    t.update({"first_stage_model." + k: v for k, v in mf.vae_tensors().items()})
    info = inspect_file(_write(tmp_path, "bundle.safetensors", t))
    assert info.kind == "wan-dit" and info.details["extra_tensors"] == 194
    assert any("not part of the DiT" in n for n in info.notes)
    clean = inspect_file(_write(tmp_path, "c.safetensors", mf.dit_tensors("14B", fp8_scaled=True)))
    assert clean.details["extra_tensors"] == 0


def test_fp8_scaled(tmp_path) -> None:
    info = inspect_file(_write(tmp_path, "s.safetensors", mf.dit_tensors("14B", fp8_scaled=True)))
    assert info.kind == "wan-dit" and info.dtype == "fp8_scaled"
    assert any("unsupported" in n for n in info.notes)


@pytest.mark.parametrize(
    "tensors,version,z",
    [(mf.vae_tensors("2.1"), "2.1", 16), (mf.vae_tensors("2.2"), "2.2-5B", 48)],
)
def test_vae(tmp_path, tensors, version, z) -> None:
    info = inspect_file(_write(tmp_path, "v.safetensors", tensors))
    assert info.kind == "wan-vae"
    assert info.details["version"] == version and info.details["z_dim"] == z
    assert bool(info.notes) == (version != "2.1")  # 2.2 carries "incompatible with 14B"


@pytest.mark.parametrize(
    "tensors,layout",
    [
        (mf.t5_wan_tensors(), "wan"),
        (mf.t5_hf_tensors(), "hf-umt5"),
        (mf.t5_hf_tensors(vocab=32128, per_layer_bias=False), "other"),
        ({"text_model.embeddings.token_embedding.weight": ("F16", (49408, 768))}, "other"),
    ],
)
def test_t5_layouts(tmp_path, tensors, layout) -> None:
    info = inspect_file(_write(tmp_path, "t.safetensors", tensors))
    assert info.kind == "t5"
    assert info.details["layout"] == layout


def test_clip(tmp_path) -> None:
    wan = inspect_file(_write(tmp_path, "c.safetensors", mf.clip_wan_tensors()))
    assert (
        wan.kind == "clip" and wan.details["variant"] == "wan-xlm-roberta-vit-h" and not wan.notes
    )
    hf = inspect_file(_write(tmp_path, "h.safetensors", mf.clip_hf_tensors()))
    assert hf.kind == "clip" and hf.details["variant"] == "hf-clip" and hf.notes


def test_lora(tmp_path) -> None:
    info = inspect_file(
        _write(
            tmp_path,
            "l.safetensors",
            mf.lora_tensors(rank=16),
            {"ss_network_module": "networks.lora_wan"},
        )
    )
    assert info.kind == "lora"
    assert info.details["rank"] == 16 and info.details["target"] == "wan-dit"
    assert info.details["ss_network_module"] == "networks.lora_wan"


def test_wan21_vae_full_key_set(tmp_path) -> None:
    vae = mf.vae_tensors("2.1")
    assert len(vae) == 194  # docs/reference/wan-facts.md §4.4
    info = inspect_file(
        mf.write_pth(
            tmp_path / "Wan2.1_VAE.pth",
            vae,
        )
    )
    assert info.kind == "wan-vae" and info.tensors == 194 and info.format == "pth"
    assert info.details["version"] == "2.1"


def test_dit_matches_the_lab_builder(tmp_path) -> None:
    """The 1.3B key set equals scripts/build_lab.py's, verified there against musubi's model."""
    import subprocess

    script = Path(__file__).resolve().parent.parent / "scripts" / "build_lab.py"
    if not script.exists():
        pytest.skip("no lab builder")
    out = subprocess.run(
        [sys.executable, str(script), "--print-shapes"], capture_output=True, text=True, timeout=60
    )
    shapes = json.loads(out.stdout.strip().splitlines()[-1])
    assert {k: tuple(v) for k, v in shapes["dit"].items()} == {
        k: s for k, (_, s) in mf.dit_tensors("1.3B").items()
    }
    assert {k: tuple(v) for k, v in shapes["vae"].items()} == {
        k: s for k, (_, s) in mf.vae_tensors("2.1").items()
    }


def test_valid_sparse_files_open_with_the_safetensors_library(tmp_path) -> None:
    p = _write(tmp_path, "v.safetensors", mf.vae_tensors())
    with safetensors.safe_open(str(p), "np") as f:
        assert set(f.keys()) == set(mf.vae_tensors())


# -- corrupt files: each one also refused by the safetensors library --------------------


def _corruptions(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = _write(tmp_path, "good.safetensors", mf.lora_tensors(rank=4, layers=2))
    raw = good.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    out: dict[str, tuple[Path, str]] = {}

    def put(name: str, data: bytes, reason: str) -> None:
        p = tmp_path / name
        p.write_bytes(data)
        out[name] = (p, reason)

    put("truncated.safetensors", raw[:-100], "truncated")
    put("header_cut.safetensors", raw[: 8 + n // 2], "truncated")
    put("too_large.safetensors", (2**40).to_bytes(8, "little") + raw[8:], "HeaderTooLarge")
    put("bad_json.safetensors", raw[:8] + b"{" + b"x" * (n - 1) + raw[8 + n :], "JSON")
    put("not_utf8.safetensors", raw[:8] + b"{\xff" + raw[10:], "UTF-8")
    put("extra.safetensors", raw + b"\0" * 64, "incomplete metadata")
    put("tiny.safetensors", b"\x01\x02", "too short")
    hdr = json.loads(raw[8 : 8 + n])
    hdr["lora_unet_blocks_0_ffn_0.lora_down.weight"]["shape"] = [5, 5120]
    h2 = json.dumps(hdr).encode()
    h2 += b" " * (-len(h2) % 8)
    put(
        "shape_vs_offsets.safetensors",
        len(h2).to_bytes(8, "little") + h2 + raw[8 + n :],
        "bytes for shape",
    )
    return out


def test_corrupt_files(tmp_path) -> None:
    for name, (p, reason) in _corruptions(tmp_path).items():
        info = inspect_file(p)
        assert info.kind == "corrupt", name
        assert reason in info.details["reason"], (name, info.details["reason"])
        with pytest.raises(Exception):  # noqa: B017 - the library's own error types vary
            with safetensors.safe_open(str(p), "np") as f:
                for k in f.keys():
                    f.get_tensor(k)


def test_unknown_and_odd_inputs(tmp_path) -> None:
    (tmp_path / "empty.safetensors").write_bytes(b"")
    assert inspect_file(tmp_path / "empty.safetensors").kind == "corrupt"
    (tmp_path / "x.gguf").write_bytes(b"GGUF" + b"\0" * 100)
    g = inspect_file(tmp_path / "x.gguf")
    assert g.kind == "unknown" and "GGUF" in g.details["reason"]
    (tmp_path / "notes.txt").write_text("hello world, not a model")
    assert inspect_file(tmp_path / "notes.txt").kind == "unknown"
    assert inspect_file(tmp_path / "missing.safetensors").details["reason"] == "no such file"
    assert inspect_file(tmp_path).details["reason"] == "is a directory"
    other = _write(tmp_path, "o.safetensors", {"foo.weight": ("F32", (3, 3))})
    assert inspect_file(other).kind == "unknown"
    assert _write(tmp_path, "e.safetensors", {}).exists()
    assert inspect_file(tmp_path / "e.safetensors").kind == "unknown"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_fuzz_never_raises(tmp_path, data) -> None:
    p = tmp_path / "fuzz.safetensors"
    p.write_bytes(data)
    info = inspect_file(p)
    assert info.kind in ("corrupt", "unknown", "wan-dit", "wan-vae", "t5", "clip", "lora")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=0, max_value=4000))
def test_fuzz_truncated_header(tmp_path, cut) -> None:
    src = tmp_path / "src.safetensors"
    if not src.exists():
        _write(tmp_path, "src.safetensors", mf.lora_tensors(rank=4, layers=2))
    raw = src.read_bytes()
    p = tmp_path / "cut.safetensors"
    p.write_bytes(raw[: min(cut, len(raw) - 1)])
    assert inspect_file(p).kind == "corrupt"


# -- .pth (torch.save zips, read without torch) ------------------------------------------


def test_pth_real_torch_save(tmp_path) -> None:
    t5 = inspect_file(
        mf.write_pth(tmp_path / "models_t5_umt5-xxl-enc-bf16.pth", mf.t5_wan_tensors())
    )
    assert t5.kind == "t5" and t5.details["layout"] == "wan" and t5.dtype == "bf16"
    assert t5.details["vocab"] == 256384 and t5.format == "pth"
    vae = inspect_file(mf.write_pth(tmp_path / "Wan2.1_VAE.pth", mf.vae_tensors()))
    assert vae.kind == "wan-vae" and vae.details["version"] == "2.1"
    clip = inspect_file(
        mf.write_pth(tmp_path / "clip.pth", mf.clip_wan_tensors(), wrap="state_dict")
    )
    assert clip.kind == "clip" and clip.details["variant"] == "wan-xlm-roberta-vit-h"
    f8 = inspect_file(mf.write_pth(tmp_path / "f8.pth", {"blocks.0.x": ("F8_E4M3", (3, 4))}))
    assert f8.dtype == "fp8_e4m3fn"


def test_pth_real_data_and_truncation(tmp_path) -> None:
    import torch

    p = tmp_path / "real.pth"
    torch.save({f"blocks.{i}.w": torch.zeros(64, 64, dtype=torch.bfloat16) for i in range(8)}, p)
    ok = inspect_file(p)
    assert ok.kind == "unknown" and ok.format == "pth" and ok.tensors == 8 and ok.dtype == "bf16"
    raw = p.read_bytes()
    (tmp_path / "cut.pth").write_bytes(raw[: len(raw) // 2])
    assert inspect_file(tmp_path / "cut.pth").kind == "corrupt"


def test_pth_legacy_format(tmp_path) -> None:
    import torch

    p = tmp_path / "legacy.pth"
    torch.save({"a": torch.zeros(2)}, p, _use_new_zipfile_serialization=False)
    info = inspect_file(p)
    assert info.kind == "unknown" and "legacy" in info.details["reason"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_pth_pickle_never_runs_code(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"x": _Evil(), "y": [_Evil()]}, protocol=2))
    (tmp_path / "evil.pth").write_bytes(buf.getvalue())
    info = inspect_file(tmp_path / "evil.pth")
    assert not (tmp_path / "PWNED").exists()
    assert info.kind == "unknown"


def test_pth_garbage_pickle(tmp_path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02garbage")
    (tmp_path / "g.pth").write_bytes(buf.getvalue())
    assert inspect_file(tmp_path / "g.pth").kind == "corrupt"


def test_pth_missing_storage_entry(tmp_path) -> None:
    p = mf.write_pth(tmp_path / "x.pth", {"a": ("BF16", (4,))})
    buf = io.BytesIO()
    with zipfile.ZipFile(p) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            if "/data/" not in info.filename:
                dst.writestr(info, src.read(info))
    (tmp_path / "nostorage.pth").write_bytes(buf.getvalue())
    out = inspect_file(tmp_path / "nostorage.pth")
    assert out.kind == "corrupt" and "missing" in out.details["reason"]


# -- cost and scan --------------------------------------------------------------------------


def test_cost_does_not_depend_on_size(tmp_path, monkeypatch) -> None:
    """Only the header is read, whatever the file's size (timings live in bench/)."""
    import wantui.core.models.headers as headers

    read: list[int] = []

    class Counting:
        def __init__(self, f) -> None:
            self.f = f

        def read(self, n: int = -1) -> bytes:
            assert n >= 0, "a read of the whole file"
            data = self.f.read(n)
            read.append(len(data))
            return data

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.f.close()

    monkeypatch.setattr(headers, "open", lambda p, mode="r": Counting(open(p, mode)), raising=False)
    for params, family in (("1.3B", "t2v"), ("14B", "i2v")):
        p = _write(tmp_path, f"{params}.safetensors", mf.dit_tensors(params, family))
        n = int.from_bytes(p.open("rb").read(8), "little")
        read.clear()
        info = inspect_file(p)
        assert info.kind == "wan-dit"
        assert sum(read) <= 9 + 8 + n, (sum(read), n, info.size)
        assert info.size > 100 * sum(read)


def test_scan_models(tmp_path) -> None:
    _write(tmp_path, "dit.safetensors", mf.dit_tensors("1.3B"))
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "vae.safetensors", mf.vae_tensors())
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / ".cache").mkdir()
    _write(tmp_path / ".cache", "hidden.safetensors", mf.vae_tensors())
    found = scan_models(tmp_path)
    assert [Path(i.path).name for i in found] == ["dit.safetensors", "vae.safetensors"]
    assert [i.kind for i in found] == ["wan-dit", "wan-vae"]


# -- CLI -----------------------------------------------------------------------------------


def test_cli_inspect_json(tmp_path, capsys) -> None:
    dit = _write(tmp_path, "dit.safetensors", mf.dit_tensors("14B", "i2v"))
    t5 = _write(tmp_path, "umt5_xxl_fp16.safetensors", mf.t5_hf_tensors())
    assert main(["inspect", "--json", str(dit), str(t5)]) == 0
    out = json.loads(capsys.readouterr().out)["files"]
    assert [o["kind"] for o in out] == ["wan-dit", "t5"]
    assert out[0]["details"]["params"] == "14B" and out[0]["details"]["family"] == "i2v"
    assert out[1]["details"]["layout"] == "hf-umt5"


def test_cli_inspect_text_folder_and_exit_codes(tmp_path, capsys) -> None:
    _write(tmp_path, "vae.safetensors", mf.vae_tensors("2.2"))
    assert main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "wan-vae" in out and "incompatible" in out
    (tmp_path / "bad.safetensors").write_bytes(b"\0" * 7)
    assert main(["inspect", str(tmp_path / "bad.safetensors")]) == 1
    assert main(["inspect", str(tmp_path / "nope.safetensors")]) == 2
    assert "nope.safetensors: no such file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["inspect", str(tmp_path / "empty")]) == 2


# -- `wantui inspect` as a first-timer meets it: a folder of look-alike files, failed
# downloads, renamed checkpoints, shards, odd paths. The real CLI runs as a subprocess:
# every file gets a kind or a one-line reason, exit codes as documented, never exit 3.


def _cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return run_wantui("inspect", *args, timeout=timeout)


def _st(path: Path, raw: bytes, data: bytes = b"") -> Path:
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)
    return path


def _messy(d: Path) -> dict[str, tuple[str, str]]:
    """name -> (expected kind, a word of the reason)."""
    cases: dict[str, tuple[str, str]] = {}
    one = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'

    (d / "page.safetensors").write_bytes(b"<!DOCTYPE html>\n<html><body>404</body></html>\n")
    cases["page.safetensors"] = ("corrupt", "HTML page")
    (d / "err.safetensors").write_bytes(b'{"error":"Repository Not Found for url"}')
    cases["err.safetensors"] = ("corrupt", "text file")
    (d / "lfs.safetensors").write_bytes(
        b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 28000000000\n"
    )
    cases["lfs.safetensors"] = ("corrupt", "git lfs pull")
    (d / "quant.safetensors").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\0" * 64)
    cases["quant.safetensors"] = ("unknown", "GGUF")
    (d / "zero.safetensors").write_bytes(b"")
    cases["zero.safetensors"] = ("corrupt", "0 bytes")
    (d / "seven.safetensors").write_bytes(b"\x01\x02\x03\x04\x05\x06\x07")
    cases["seven.safetensors"] = ("corrupt", "too short")
    (d / "huge.safetensors").write_bytes((2**63).to_bytes(8, "little") + b"{}")
    cases["huge.safetensors"] = ("corrupt", "HeaderTooLarge")
    _st(d / "list.safetensors", b"[1, 2, 3]")
    cases["list.safetensors"] = ("corrupt", "not a JSON object")
    _st(d / "deep.safetensors", b"[" * 100_000 + b"]" * 100_000)
    cases["deep.safetensors"] = ("corrupt", "nested too deeply")
    _st(d / "deepobj.safetensors", b'{"a":' * 50_000 + b"1" + b"}" * 50_000)
    cases["deepobj.safetensors"] = ("corrupt", "nested too deeply")
    _st(
        d / "overlap.safetensors",
        b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        b'"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
        b"\0" * 12,
    )
    cases["overlap.safetensors"] = ("corrupt", "invalid offset")
    _st(
        d / "hole.safetensors",
        b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        b'"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
        b"\0" * 12,
    )
    cases["hole.safetensors"] = ("corrupt", "hole")
    _st(d / "meta.safetensors", b'{"__metadata__":{"k":[1]},' + one[1:] + b"}", b"\0" * 4)
    cases["meta.safetensors"] = ("corrupt", "__metadata__")
    _st(
        d / "dtype.safetensors", b'{"a":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,4]}}', b"0000"
    )
    cases["dtype.safetensors"] = ("corrupt", "unknown dtype")
    mf.write_pth(d / "vae_as.safetensors", mf.vae_tensors())
    cases["vae_as.safetensors"] = ("wan-vae", "")
    return cases


def test_messy_folder_every_file_has_a_kind_or_a_reason(tmp_path) -> None:
    cases = _messy(tmp_path)
    r = _cli(str(tmp_path), "--json")
    assert r.returncode == 1, r.stderr  # corrupt files present: 1, never 3
    assert "Traceback" not in r.stderr
    got = {Path(i["path"]).name: i for i in json.loads(r.stdout)["files"]}
    assert set(got) == set(cases)
    for name, (kind, word) in cases.items():
        info = got[name]
        assert info["kind"] == kind, (name, info)
        if word:
            assert word.lower() in info["details"]["reason"].lower(), (name, info)
            assert "\n" not in info["details"]["reason"]
    # the renamed .pth is named, and why musubi will not load it
    assert got["vae_as.safetensors"]["format"] == "pth"
    assert got["vae_as.safetensors"]["details"]["extension_mismatch"] is True


def test_a_text_file_under_its_own_name_is_not_called_corrupt(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "page.html").write_text("<html></html>")
    assert inspect_file(tmp_path / "notes.txt").kind == "unknown"
    assert inspect_file(tmp_path / "page.html").kind == "unknown"


def test_duplicate_keys_are_reported_not_silently_merged(tmp_path) -> None:
    p = _st(
        tmp_path / "dup.safetensors",
        b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        b'"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
        b"\0" * 8,
    )
    info = inspect_file(p)
    assert info.details["duplicate_keys"] == ["a"]
    assert any("more than once" in n for n in info.notes)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_fifo_symlink_loop_dangling_link_do_not_hang_and_exit_2(tmp_path) -> None:
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)  # opening it for reading would block for ever
    (tmp_path / "a.safetensors").symlink_to("b.safetensors")
    (tmp_path / "b.safetensors").symlink_to("a.safetensors")
    (tmp_path / "gone.safetensors").symlink_to("nowhere.safetensors")
    for name, word in (
        ("pipe.safetensors", "FIFO"),
        ("a.safetensors", "symbolic links"),
        ("gone.safetensors", "no such file"),
    ):
        r = _cli(str(tmp_path / name), timeout=20)
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        assert word in r.stdout, (name, r.stdout)
    # a folder scan skips the FIFO and the loops instead of hanging on them
    assert scan_models(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_permission_denied_is_unreadable(tmp_path) -> None:
    p = mf.write_safetensors(tmp_path / "x.safetensors", mf.vae_tensors())
    p.chmod(0)
    r = _cli(str(p))
    assert r.returncode == 2 and "permission denied" in r.stdout


def test_windows_paths_get_a_hint(tmp_path) -> None:
    for raw in (r"C:\Users\me\models\wan.safetensors", "D:/models/wan.safetensors"):
        r = _cli(raw)
        assert r.returncode == 2
        assert "Windows path" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_spaces_and_japanese_in_paths(tmp_path) -> None:
    d = tmp_path / "日本語 モデル"
    d.mkdir()
    mf.write_safetensors(d / "ワン VAE.safetensors", mf.vae_tensors())
    r = _cli(str(d), "--json")
    assert r.returncode == 0, r.stderr
    (info,) = json.loads(r.stdout)["files"]
    assert info["kind"] == "wan-vae" and info["path"].endswith("ワン VAE.safetensors")


def _shards(d: Path, count: int = 3) -> list[Path]:
    t = mf.dit_tensors("14B", "t2v")
    keys = list(t)
    n = len(keys) // count + 1
    paths = []
    for i in range(count):
        part = {k: t[k] for k in keys[i * n : (i + 1) * n]}
        name = f"diffusion_pytorch_model-{i + 1:05d}-of-{count:05d}.safetensors"
        paths.append(mf.write_safetensors(d / name, part))
    return paths


def test_sharded_dit_is_one_model(tmp_path) -> None:
    first, second, _ = _shards(tmp_path)
    # musubi loads every shard when one is named: the model is the whole set
    info = inspect_file(first)
    assert info.kind == "wan-dit" and info.details["params"] == "14B"
    assert info.tensors == 1095 and info.details["shards"] == 3
    assert "dtype_key_in_file" not in info.details
    # the dtype is read from the named file only: shard 2 lacks the key
    assert inspect_file(second).details["dtype_key_in_file"] is False
    # a folder scan reports the set once
    assert [Path(i.path).name for i in scan_models(tmp_path)] == [first.name]


def test_sharded_dit_with_a_missing_shard_is_corrupt(tmp_path) -> None:
    first, _, third = _shards(tmp_path)
    third.unlink()
    r = _cli(str(first))
    assert r.returncode == 1
    assert "00003-of-00003" in r.stdout and "FileNotFoundError" in r.stdout


def test_pth_wrappers_and_prefixes(tmp_path) -> None:
    pytest.importorskip("torch")
    vae = mf.vae_tensors()
    mf.write_pth(tmp_path / "sd.pth", vae, wrap="state_dict")
    mf.write_pth(tmp_path / "module.pth", {"module." + k: v for k, v in vae.items()})
    import torch

    t5 = {
        k: torch.zeros(1, dtype=torch.bfloat16).expand(*shape)
        for k, (_, shape) in mf.t5_wan_tensors().items()
    }
    torch.save({"epoch": 3, "checkpoint": {"net": t5}}, tmp_path / "deep.pth")
    infos = {Path(i.path).name: i for i in scan_models(tmp_path)}
    assert infos["sd.pth"].kind == "wan-vae"
    assert infos["sd.pth"].details["nested_under"] == "state_dict"
    assert infos["module.pth"].kind == "wan-vae"
    assert infos["module.pth"].details["key_prefix"] == "module."
    assert infos["deep.pth"].kind == "t5"
    assert infos["deep.pth"].details["nested_under"] == "checkpoint/net"


def test_a_folder_over_the_limit_says_it_was_cut(tmp_path) -> None:
    # bug: scan_models stopped at 500 files silently; the rest looked absent
    for i in range(505):
        _st(tmp_path / f"lora_{i:03d}.safetensors", b"{}")
    r = _cli(str(tmp_path), "--json")
    assert r.returncode == 0
    assert len(json.loads(r.stdout)["files"]) == 500
    assert "more than 500 model files" in r.stderr


def test_every_factory_shape_through_the_cli(tmp_path) -> None:
    # name -> (tensors, expected kind, a detail that must hold)
    shapes = {
        "dit_t2v_1.3B.safetensors": (mf.dit_tensors("1.3B"), "wan-dit", ("params", "1.3B")),
        "dit_i2v_14B.safetensors": (mf.dit_tensors("14B", "i2v"), "wan-dit", ("family", "i2v")),
        "wan2.2_i2v_A14B.safetensors": (
            mf.dit_tensors("14B", "i2v-A14B"),
            "wan-dit",
            ("wan_version", "2.2"),
        ),
        "dit_flf.safetensors": (mf.dit_tensors("14B", "flf2v"), "wan-dit", ("family", "flf2v")),
        "dit_fc.safetensors": (mf.dit_tensors("1.3B", "fc"), "wan-dit", ("family", "fun-control")),
        "dit_ti2v.safetensors": (mf.dit_tensors("5B", "ti2v"), "wan-dit", ("params", "5B")),
        "dit_fp8.safetensors": (mf.dit_tensors("14B", fp8=True), "wan-dit", ("dim", 5120)),
        "dit_scaled.safetensors": (mf.dit_tensors("14B", fp8_scaled=True), "wan-dit", None),
        "dit_comfy.safetensors": (
            mf.dit_tensors("1.3B", prefix="model.diffusion_model."),
            "wan-dit",
            ("prefix", "model.diffusion_model."),
        ),
        "dit_bad_prefix.safetensors": (
            mf.dit_tensors("1.3B", prefix="diffusion_model."),
            "wan-dit",
            ("prefix", "diffusion_model."),
        ),
        "vae21.safetensors": (mf.vae_tensors(), "wan-vae", ("version", "2.1")),
        "vae22.safetensors": (mf.vae_tensors("2.2"), "wan-vae", ("version", "2.2-5B")),
        "t5_wan.safetensors": (mf.t5_wan_tensors(), "t5", ("layout", "wan")),
        "t5_hf.safetensors": (mf.t5_hf_tensors(), "t5", ("layout", "hf-umt5")),
        "t5_plain.safetensors": (
            mf.t5_hf_tensors(vocab=32128, per_layer_bias=False),
            "t5",
            ("layout", "other"),
        ),
        "clip_wan.safetensors": (
            mf.clip_wan_tensors(),
            "clip",
            ("variant", "wan-xlm-roberta-vit-h"),
        ),
        "clip_hf.safetensors": (mf.clip_hf_tensors(), "clip", ("variant", "hf-clip")),
        "lora.safetensors": (mf.lora_tensors(rank=16), "lora", ("rank", 16)),
        "cache_wan.safetensors": (mf.latent_cache_tensors(i2v=True), "unknown", None),
    }
    for name, (tensors, _, _) in shapes.items():
        mf.write_safetensors(tmp_path / name, tensors)
    r = _cli(str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    got = {Path(i["path"]).name: i for i in json.loads(r.stdout)["files"]}
    assert set(got) == set(shapes)
    for name, (_, kind, detail) in shapes.items():
        assert got[name]["kind"] == kind, (name, got[name])
        if detail:
            assert got[name]["details"][detail[0]] == detail[1], (name, got[name]["details"])
    assert got["dit_scaled.safetensors"]["dtype"] == "fp8_scaled"
    assert got["dit_fp8.safetensors"]["dtype"] == "fp8_e4m3fn"


def test_japanese_paths_on_an_ascii_terminal(tmp_path) -> None:
    # bug: PYTHONIOENCODING=ascii (an old SSH locale) ended in UnicodeEncodeError, exit 3
    d = tmp_path / "日本語"
    d.mkdir()
    mf.write_safetensors(d / "ワン.safetensors", mf.vae_tensors())
    env = cli_env(PYTHONIOENCODING="ascii")
    for args, code in (((str(d),), 0), ((str(d / "無い.safetensors"),), 2)):
        r = run_wantui("inspect", *args, env=env, timeout=30)
        assert r.returncode == code, r.stderr
        assert "\\u" in (r.stdout + r.stderr)


def test_scan_follows_symlinked_folders_once_and_skips_hidden(tmp_path, monkeypatch) -> None:
    import wantui.core.models as models

    disk = tmp_path / "disk"
    disk.mkdir()
    mf.write_safetensors(disk / "vae.safetensors", mf.vae_tensors())
    proj = tmp_path / "proj"
    (proj / ".cache").mkdir(parents=True)
    _st(proj / ".cache" / "hidden.safetensors", b"{}")
    (proj / "models").symlink_to(disk)  # models on another volume, as on rented boxes
    (disk / "back").symlink_to(proj)  # and a link back up: no loop
    found = [Path(i.path) for i in scan_models(proj)]
    assert found == [proj / "models" / "vae.safetensors"]
    # a huge tree is walked only so far, and says so
    for i in range(30):
        (proj / f"d{i}").mkdir()
    monkeypatch.setattr(models, "MAX_SCAN_ENTRIES", 10)
    stats: dict = {}
    scan_models(proj, stats=stats)
    assert stats["cut"] is True and stats["visited"] >= 10


_FINGERPRINT_KEYS = [
    "token_embedding.weight",
    "blocks.0.attn.q.weight",
    "blocks.0.ffn.fc1.weight",
    "patch_embedding.weight",
    "blocks.0.cross_attn.k.weight",
    "model.diffusion_model.patch_embedding.weight",
    "conv2.weight",
    "encoder.conv1.weight",
    "decoder.conv1.weight",
    "encoder.conv_in.weight",
    "decoder.conv_in.weight",
    "quant_conv.weight",
    "shared.weight",
    "encoder.block.0.layer.0.SelfAttention.q.weight",
    "log_scale",
    "visual.cls_embedding",
    "textual.token_embedding.weight",
    "x.lora_down.weight",
    "x.lora_up.weight",
    "img_emb.proj.0.weight",
    "scaled_fp8",
]


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(_FINGERPRINT_KEYS),
        st.tuples(
            st.sampled_from(["BF16", "F16", "F32", "F8_E4M3", "I64"]),
            st.lists(st.integers(0, 300_000), max_size=5).map(tuple),
        ),
        min_size=1,
    )
)
def test_fingerprint_keys_with_odd_shapes_never_raise(spec) -> None:
    # bug: a scalar token_embedding.weight or a 1-d conv2.weight raised IndexError (exit 3)
    from wantui.core.models.headers import Header, TensorMeta
    from wantui.core.models.identify import identify

    header = Header("safetensors", {k: TensorMeta(d, s) for k, (d, s) in spec.items()})
    kind, _, details = identify(header, "x.safetensors")
    assert kind in ("wan-dit", "wan-vae", "t5", "clip", "lora", "unknown")
    assert isinstance(details.get("notes", []), list)


def test_permission_denied_even_as_root(tmp_path, monkeypatch, capsys) -> None:
    # the suite runs as root here, where chmod 0 still reads: make the read itself fail
    import wantui.core.models as models
    from wantui.cli.main import main

    p = mf.write_safetensors(tmp_path / "x.safetensors", mf.vae_tensors())

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(models, "read_header", denied)
    info = inspect_file(p)
    assert info.kind == "unknown" and info.details["reason"] == "permission denied"
    assert main(["inspect", str(p)]) == 2
    assert "permission denied" in capsys.readouterr().out


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        _json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.text(max_size=6),
            st.fixed_dictionaries(
                {
                    "dtype": st.sampled_from(["F32", "BF16", "X"]),
                    "shape": _json_values,
                    "data_offsets": _json_values,
                }  # fmt: skip
            ),
            max_size=3,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    st.integers(0, 64),
)
def test_random_headers_only_raise_the_two_documented_errors(tmp_path_factory, raw, extra) -> None:
    # bug found this way: a 5000-digit integer raised ValueError (int_max_str_digits), exit 3
    from wantui.core.models import CorruptFile, NotAModelFile, read_safetensors_header

    p = tmp_path_factory.mktemp("h") / "x.safetensors"
    _st(p, raw, b"\0" * extra)
    try:
        read_safetensors_header(p)
    except (CorruptFile, NotAModelFile) as exc:
        assert "\n" not in str(exc)
    assert inspect_file(p).kind in (
        "unknown",
        "corrupt",
        "wan-dit",
        "wan-vae",
        "t5",
        "clip",
        "lora",
    )


def test_a_5000_digit_number_in_a_header_is_corrupt(tmp_path) -> None:
    raw = b'{"a":{"dtype":"F32","shape":[' + b"9" * 5000 + b'],"data_offsets":[0,4]}}'
    info = inspect_file(_st(tmp_path / "n.safetensors", raw, b"\0" * 4))
    assert info.kind == "corrupt" and "too long" in info.details["reason"]
