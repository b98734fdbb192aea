"""What the setup screen shows after writing a dataset config: media and caption counts
per dataset, and every finding of the dataset checks."""

from __future__ import annotations

from pathlib import Path

from wantui.core.dataset.check import check_dataset_config
from wantui.core.dataset.load import load_dataset_config
from wantui.core.dataset.scan import scan_datasets
from wantui.core.errors import WantuiError
from wantui.core.finding import Finding


def check_dataset(path: Path, cwd: Path) -> tuple[str, list[Finding]]:
    """One line per dataset (what the scan found), and the checks' findings."""
    findings = list(check_dataset_config(path, cwd))
    lines: list[str] = []
    try:
        for s in scan_datasets(load_dataset_config(path), cwd):
            where = s.directory if s.directory is not None else "(jsonl)"
            state = "" if s.exists else "  (folder does not exist)"
            lines.append(
                f"[{s.index}] {s.kind}s in {where}: {len(s.media)} found, "
                f"{len(s.captions_missing)} without a caption, {len(s.ignored)} ignored{state}"
            )
    except WantuiError as exc:  # the findings above already explain a bad config
        lines.append(f"scan skipped: {exc}")
    return "\n".join(lines) or "nothing scanned", findings
