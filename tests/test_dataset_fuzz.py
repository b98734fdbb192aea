"""Fuzz the dataset TOML reader and checker: only WantuiError or findings, never a crash."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wantui.core.dataset import check_dataset_config
from wantui.core.dataset.positions import scan_positions
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding

VALID = (
    Path(__file__).resolve().parent.parent / "fixtures" / "configs" / "valid_video.toml"
).read_bytes()
SNIPPETS = [b"[", b"]", b"[[datasets]]", b"=", b'"', b"'", b"\\", b"\n", b"#", b"{", b"}", b",", b"\\t", b"\\d",
            b"'''", b'"""', b"num_frames = 3", b"target_frames = 17", b"\xff", b"\x00", b"path = 'x'", b"1.5"]  # fmt: skip


def run_check(tmp: Path, data: bytes) -> None:
    p = tmp / "fuzz.toml"
    p.write_bytes(data)
    try:
        out = check_dataset_config(p, tmp)
    except WantuiError as err:
        assert err.path == str(p)
        return
    assert all(isinstance(f, Finding) for f in out)
    for f in out:
        assert f.location is None or f.location.path == str(p)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400))
def test_random_bytes(tmp_path, data):
    run_check(tmp_path, data)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_random_text(tmp_path, text):
    run_check(tmp_path, text.encode("utf-8"))
    scan_positions(text)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, len(VALID)), st.integers(0, 20), st.sampled_from(SNIPPETS)),
        max_size=6,
    )
)
def test_mutations_of_a_valid_config(tmp_path, edits):
    data = bytearray(VALID)
    for pos, cut, snippet in edits:
        pos = min(pos, len(data))
        data[pos : pos + cut] = snippet
    run_check(tmp_path, bytes(data))
