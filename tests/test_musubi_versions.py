"""Versions in the knowledge: rules and checks say which musubi-tuner versions they hold
for, and the v0.3.5 changes (startup check of the output options, JSONL path order,
extra JSONL item keys) follow the version of the musubi-tuner in use."""

from __future__ import annotations

import json
from pathlib import Path

import musubi_like
import pytest

from wantui.core.args.checkout import Checkout, read_reference, use_reference
from wantui.core.preflight import check_pasted
from wantui.core.rules.loader import load_rules, load_rules_dir
from wantui.core.versions import check_spec, holds, parse_version

RULES = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_version_specs() -> None:
    assert parse_version("v0.3.5.dev1") == (0, 3, 5)
    assert holds(">=0.3.5", "0.3.5") and not holds(">=0.3.5", "0.3.4")
    assert holds(">=0.3.0,<0.3.5", "0.3.4") and not holds("<=0.3.4", "0.4")
    assert holds("", None) and holds("<=0.3.4", None)  # unknown: the bundled 0.3.4
    assert check_spec("0.3.5") and check_spec(">=x") and not check_spec(">=0.3.5, <1")


def test_rules_state_their_versions(tmp_path: Path) -> None:
    rules = {r.id: r for r in load_rules(include_user=False).rules}
    assert rules["output-name-missing"].musubi == "<=0.3.4"
    assert rules["output-name-missing-at-startup"].musubi == ">=0.3.5"
    assert "not in the source wantui can read" in rules["output-dir-missing-at-startup"].message
    bad = tmp_path / "r"
    bad.mkdir()
    text = (RULES / "output-name-missing-at-startup.yaml").read_text()
    (bad / "output-name-missing-at-startup.yaml").write_text(text.replace('">=0.3.5"', '"new"'))
    rules_bad, problems = load_rules_dir(bad, builtin=False)
    assert not rules_bad and "musubi" in str(problems[0])


def _ref(tmp_path: Path, version: str):
    return read_reference(
        Checkout(musubi_like.write_checkout(tmp_path / version, version=version), "script")
    )


def test_output_options_message_follows_the_version(tmp_path: Path) -> None:
    (tmp_path / "d.toml").write_text('[[datasets]]\nimage_directory = "i"\n')
    for version, words in (
        ("0.3.5", "ValueError before loading"),
        ("0.3.4", "crashes at the final save"),
    ):
        pkg = musubi_like.write_checkout(tmp_path / version, version=version)
        cmd = f"python {pkg / 'wan_train_network.py'} --dataset_config d.toml --task t2v-14B --sdpa"
        found = {f.rule: f for f in check_pasted(cmd, tmp_path)}
        assert words in found["output-name-missing"].message, version
        assert found["output-dir-missing"].severity.value == "error"
    assert _ref(tmp_path, "0.3.5").version == "0.3.5"


def _jsonl_case(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "clips").mkdir(parents=True)
    (data / "clips" / "a.mp4").write_bytes(b"")
    lines = [{"video_path": "clips/a.mp4", "caption": "x", "audio_path": "clips/a.wav", "score": 1}]
    (data / "items.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (tmp_path / "d.toml").write_text(
        '[general]\nresolution = 256\n[[datasets]]\nvideo_jsonl_file = "data/items.jsonl"\n'
        'cache_directory = "cache"\ntarget_frames = [1]\n'
    )
    return tmp_path


def test_jsonl_paths_beside_the_jsonl_resolve_from_v035(tmp_path: Path) -> None:
    root = _jsonl_case(tmp_path)
    new = musubi_like.write_checkout(tmp_path / "new", version="0.3.5")
    cmd = "python {} --dataset_config d.toml --vae v.safetensors"
    found_new = {f.rule: f for f in check_pasted(cmd.format(new / "wan_cache_latents.py"), root)}
    found_old = {f.rule: f for f in check_pasted(cmd.format("wan_cache_latents.py"), root)}
    assert "dataset-media-missing" not in found_new
    assert found_new["dataset-media-beside-jsonl"].severity.value == "info"
    assert "PR #1023" in found_new["dataset-media-beside-jsonl"].message
    assert found_old["dataset-media-missing"].severity.value == "error"
    for found in (found_new, found_old):  # extra item keys: info in every version
        extra = found["dataset-jsonl-extra-keys"]
        assert extra.severity.value == "info" and "`audio_path` (1)" in extra.message
        assert "`score` (1)" in extra.message


def test_reference_in_effect_is_scoped(tmp_path: Path) -> None:
    from wantui.core.args.checkout import musubi_version

    ref = _ref(tmp_path, "0.3.5")
    with use_reference(ref):
        assert musubi_version() == "0.3.5"
    assert musubi_version() == "0.3.4"


@pytest.mark.parametrize(
    ("version", "bucket", "cache_size", "warned"),
    [
        ("0.3.5", None, "0496x0256", True),  # a v0.3.4 bucket-size cache: rebuilt
        ("0.3.4", None, "0496x0256", False),  # the same musubi-tuner that made it
        ("0.3.5", "true", "0496x0256", False),  # bucketing on: sizes as before
        ("0.3.5", None, "0480x0272", False),  # already at the resolution
    ],
)
def test_v035_rebuilds_video_caches_made_at_bucket_sizes(
    tmp_path: Path, version: str, bucket: str | None, cache_size: str, warned: bool
) -> None:
    from wantui.core.dataset.mp4 import write_test_mp4

    (tmp_path / "vids").mkdir()
    write_test_mp4(tmp_path / "vids" / "a.mp4", 20)
    (tmp_path / "vids" / "a.txt").write_text("x")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / f"a_00000-001_{cache_size}_wan.safetensors").write_bytes(b"")
    (tmp_path / "d.toml").write_text(
        "[general]\nresolution = [480, 272]\n"
        + (f"enable_bucket = {bucket}\n" if bucket else "")
        + '[[datasets]]\nvideo_directory = "vids"\ncache_directory = "cache"\ntarget_frames = [1]\n'
    )
    pkg = musubi_like.write_checkout(tmp_path / "m", version=version)
    cmd = f"python {pkg / 'wan_cache_latents.py'} --dataset_config d.toml --vae v.safetensors"
    found = {f.rule: f for f in check_pasted(cmd, tmp_path)}
    assert ("video-cache-rebucketed" in found) == warned, sorted(found)
    if warned:
        f = found["video-cache-rebucketed"]
        assert "PR #1100" in f.message and "deletes the old files" in f.message
        assert f.severity.value == "warning"


def test_cu132_extra_is_named_for_v035_and_a_cuda_132_driver(tmp_path: Path) -> None:
    from wantui.core.probe.wheels import choose_wheel, extras_in

    assert "cu132" in extras_in("0.3.5") and "cu132" not in extras_in("0.3.4")
    assert "cu132" not in choose_wheel(["8.9"], driver_cuda=(13, 2)).why  # bundled 0.3.4
    with use_reference(_ref(tmp_path, "0.3.5")):
        assert "cu132 extra" in choose_wheel(["8.9"], driver_cuda=(13, 2)).why
        assert "cu132" not in choose_wheel(["8.9"], driver_cuda=(12, 8)).why
