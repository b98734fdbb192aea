"""musubi-tuner versions in wantui's knowledge: which versions a rule or check holds for.

A version spec is a comma-separated list of comparisons, all of which must hold:
``">=0.3.5"``, ``"<=0.3.4"``, ``">=0.3.0,<0.3.5"``, ``"==0.3.4"``. The version checked
against is the one of the musubi-tuner in use (read from its ``pyproject.toml`` by
:mod:`wantui.core.args.checkout`), else the bundled catalog's (:data:`BUNDLED`).
"""

from __future__ import annotations

import operator
import re

BUNDLED = "0.3.4"
_CMP = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*v?(\d+(?:\.\d+){0,2})\s*$")
_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
        ">": operator.gt, "<": operator.lt}  # fmt: skip


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"0.3.5"``, ``"v0.3.5"``, ``"0.3.5.dev0"`` -> (0, 3, 5); None when not a version."""
    m = re.match(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text or "")
    if not m:
        return None
    return int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)


def check_spec(spec: str) -> str | None:
    """Why ``spec`` is not a version spec, or None."""
    parts = [p for p in spec.split(",")]
    if not spec.strip() or any(not _CMP.match(p) for p in parts):
        return f'{spec!r} is not a version spec (e.g. ">=0.3.5" or ">=0.3.0,<0.3.5")'
    return None


def holds(spec: str, version: str | tuple[int, int, int] | None) -> bool:
    """Whether ``version`` satisfies ``spec`` (an empty spec holds for every version; an
    unknown version is taken as the bundled one)."""
    if not spec:
        return True
    v = version if isinstance(version, tuple) else parse_version(version or BUNDLED)
    v = v or parse_version(BUNDLED)
    for part in spec.split(","):
        m = _CMP.match(part)
        if not m:
            raise ValueError(check_spec(spec))
        if not _OPS[m.group(1)](v, parse_version(m.group(2))):
            return False
    return True


def describe(spec: str) -> str:
    """``">=0.3.5"`` -> ``"musubi-tuner >=0.3.5"``; empty -> every version."""
    return f"musubi-tuner {spec.replace(',', ', ')}" if spec else "every musubi-tuner version"
