"""The dataset config of musubi-tuner: schema, loading with positions, checks and scan.

The names are loaded on first use (PEP 562): reading the schema or scanning the media
must not import every check.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DatasetConfig": "load",
    "DatasetScan": "scan",
    "check_config": "check",
    "check_dataset_config": "check",
    "load_dataset_config": "load",
    "scan_datasets": "scan",
    "scan_findings": "scan",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
