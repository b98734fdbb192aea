"""The fix engine: plan a typed fix, preview it, apply it atomically, undo it.

plan = plan_fix(action, project, dataset_config=path)
print(plan.preview())
if plan.refused is None:
    applied = apply_plan(plan, Journal(plan.root))
undo_last(Journal(plan.root))

One action is one module of :mod:`wantui.core.fixes.actions`; the whole flow (fixes of
findings, plans, apply with a journal, undo) that the CLI and the TUI render is
:class:`wantui.core.fixes.flow.FixSession`. The names are loaded on first use (PEP 562).
"""

from __future__ import annotations

from wantui.core.lazy import lazy_exports

_WHERE = {
    "AppliedFix": "journal",
    "Journal": "journal",
    "UndoResult": "journal",
    "apply_plan": "journal",
    "new_group_id": "journal",
    "undo_last": "journal",
    "DownloadStep": "plan",
    "FileChange": "plan",
    "FixPlan": "plan",
    "PreviewLine": "plan",
    "describe_action": "plan",
    "plan_fix": "plan",
    "FixRefused": "toml_edit",
    "FixChoice": "flow",
    "FixOutcome": "flow",
    "FixSession": "flow",
}
__all__ = sorted(_WHERE)


__getattr__ = lazy_exports(__name__, _WHERE)
