"""Templates of rule messages, advice and fix parameters: ``{name}`` and ``{name|fallback}``.

``{{`` and ``}}`` are literal braces; anything else in braces that is not a name (``{0}``,
``{ }``) is left as written, so ordinary text with braces survives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?:\|([^{}]*))?\}")


def template_names(template: str) -> set[str]:
    """Every name a template refers to."""
    return {m.group(1) for m in _FIELD.finditer(template) if m.group(1)}


def render(template: str, values: Mapping[str, str | None]) -> tuple[str, set[str]]:
    """Fill a template; return the text and the names that had no value and no fallback
    (they are shown as ``<name>`` so a reader sees what is unknown)."""
    missing: set[str] = set()

    def sub(m: re.Match[str]) -> str:
        whole = m.group(0)
        if whole == "{{":
            return "{"
        if whole == "}}":
            return "}"
        name, fallback = m.group(1), m.group(2)
        value = values.get(name)
        if value is not None and value != "":
            return str(value)
        if fallback is not None:
            return fallback
        missing.add(name)
        return f"<{name}>"

    return _FIELD.sub(sub, template), missing
