"""Known-good Wan files and their download from the Hugging Face hub."""

from __future__ import annotations

from wantui.core.hub.catalog import ALIASES, CATALOG, HubFile, resolve_spec
from wantui.core.hub.download import (
    DownloadProgress,
    RemoteInfo,
    download,
    free_space,
    human_size,
    remote_info,
)

__all__ = [
    "ALIASES",
    "CATALOG",
    "DownloadProgress",
    "HubFile",
    "RemoteInfo",
    "download",
    "free_space",
    "human_size",
    "remote_info",
    "resolve_spec",
]
