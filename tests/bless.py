"""``WANTUI_BLESS=1``: the one re-bless switch of the fixture tests.

It only rewrites what a test already has into its canonical layout (marker key order and
spacing, a golden file's line endings). It never creates a verdict, a marker or a golden
file, and never turns a failing comparison into a passing one: the content compared is
the same before and after.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wantui.core.fsutil import atomic_write
from wantui.core.rules.examples import canonical

BLESS = os.environ.get("WANTUI_BLESS") == "1"


def _layout(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def check_marker_layout(path: Path) -> None:
    """The example log's markers are in the canonical layout (WANTUI_BLESS: rewrite them)."""
    data = path.read_bytes()
    want = canonical(data, path)  # a malformed marker raises: bless never repairs one
    if want == data:
        return
    if BLESS:
        atomic_write(path, want, backup=False)
        return
    pytest.fail(f"{path}: markers not in the canonical layout; run with WANTUI_BLESS=1")


def check_golden(golden: Path, got: bytes) -> None:
    """``got`` equals the golden file byte for byte. WANTUI_BLESS rewrites a golden only
    when it differs from ``got`` in layout (line endings) alone."""
    if not golden.is_file():
        pytest.fail(
            f"no golden file {golden}: write it by hand (the expected result, checked line "
            "by line); WANTUI_BLESS never creates one"
        )
    want = golden.read_bytes()
    if BLESS and want != got and _layout(want) == _layout(got):
        atomic_write(golden, got, backup=False)
        want = got
    assert got == want, f"{golden.name} differs from the result"
