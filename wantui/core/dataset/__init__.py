"""The dataset config of musubi-tuner: schema, loading with positions, checks and scan."""

from __future__ import annotations

from wantui.core.dataset.check import check_config, check_dataset_config
from wantui.core.dataset.load import DatasetConfig, load_dataset_config
from wantui.core.dataset.scan import DatasetScan, scan_datasets, scan_findings

__all__ = [
    "DatasetConfig",
    "DatasetScan",
    "check_config",
    "check_dataset_config",
    "load_dataset_config",
    "scan_datasets",
    "scan_findings",
]
