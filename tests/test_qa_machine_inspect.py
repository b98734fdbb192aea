"""QA of `wantui inspect` as a first-timer meets it: a folder of look-alike files, failed
downloads, renamed checkpoints, shards, odd paths. The real CLI runs as a subprocess:
every file gets a kind or a one-line reason, exit codes as documented, never exit 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import modelfactory as mf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wantui.core.models import inspect_file, scan_models

WANTUI = [sys.executable, "-c", "import sys; from wantui.cli.main import main; sys.exit(main())"]


def _cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WANTUI, "inspect", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1"},
    )


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


def test_japanese_paths_on_an_ascii_terminal(tmp_path) -> None:
    # bug: PYTHONIOENCODING=ascii (an old SSH locale) ended in UnicodeEncodeError, exit 3
    d = tmp_path / "日本語"
    d.mkdir()
    mf.write_safetensors(d / "ワン.safetensors", mf.vae_tensors())
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    for args, code in (((str(d),), 0), ((str(d / "無い.safetensors"),), 2)):
        r = subprocess.run(
            [*WANTUI, "inspect", *args], capture_output=True, text=True, env=env, timeout=30
        )
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
