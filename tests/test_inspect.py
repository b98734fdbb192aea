"""Model inspection on files in the real Wan shapes (sparse safetensors, small torch.save zips)."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import modelfactory as mf
import pytest
import safetensors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    import sys

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
