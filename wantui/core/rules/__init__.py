"""The rule base: models and the strict loader for ``rules/*.yaml`` (see rules/FORMAT.md).

Names load on first use, so a check that only fills a template does not import the loader.
"""

from __future__ import annotations

from wantui.core.lazy import lazy_exports

_WHERE = {
    "CONTEXT_KEYS": "model",
    "FixTemplate": "model",
    "Pattern": "model",
    "Rule": "model",
    "RuleSet": "model",
    "load_rule_file": "loader",
    "load_rules": "loader",
    "load_rules_dir": "loader",
    "parse_rule": "loader",
    "render": "template",
    "template_names": "template",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_exports(__name__, _WHERE)
