"""Where the bundled rules and fixtures live, for an editable and an installed wantui."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent  # .../wantui
_REPO = _PKG.parent


def builtin_rules_dir() -> Path:
    """The bundled rule folder: ``wantui/_rules`` in a wheel (hatch force-include), else
    the top-level ``rules/`` of a source checkout or editable install."""
    packaged = _PKG / "_rules"
    if packaged.is_dir():
        return packaged
    return _REPO / "rules"


def config_rules_dir() -> Path:
    """The user's own rule folder (``$XDG_CONFIG_HOME/wantui/rules``)."""
    import os

    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "wantui" / "rules"
