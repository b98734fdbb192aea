"""The dataset config of musubi-tuner: schema, loading with positions, checks and scan.

The names are loaded on first use (PEP 562): reading the schema or scanning the media
must not import every check.
"""

from __future__ import annotations

from wantui.core.lazy import lazy_exports

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


__getattr__ = lazy_exports(__name__, _WHERE)
