"""The fix engine: plan a typed fix, preview it, apply it atomically, undo it.

plan = plan_fix(action, project, dataset_config=path)
print(plan.preview())
if plan.refused is None:
    applied = apply_plan(plan, Journal(plan.root))
undo_last(Journal(plan.root))
"""

from __future__ import annotations

from wantui.core.fixes.journal import (
    AppliedFix,
    Journal,
    UndoResult,
    apply_plan,
    new_group_id,
    undo_last,
)
from wantui.core.fixes.plan import DownloadStep, FileChange, FixPlan, describe_action, plan_fix
from wantui.core.fixes.toml_edit import FixRefused
from wantui.core.fsutil import atomic_write

__all__ = [
    "AppliedFix",
    "DownloadStep",
    "FileChange",
    "FixPlan",
    "FixRefused",
    "Journal",
    "UndoResult",
    "apply_plan",
    "atomic_write",
    "describe_action",
    "new_group_id",
    "plan_fix",
    "undo_last",
]
