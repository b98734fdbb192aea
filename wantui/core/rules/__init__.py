"""The rule base: models and the strict loader for ``rules/*.yaml`` (see rules/FORMAT.md)."""

from __future__ import annotations

from wantui.core.rules.loader import load_rule_file, load_rules, load_rules_dir, parse_rule
from wantui.core.rules.model import CONTEXT_KEYS, FixTemplate, Pattern, Rule, RuleSet
from wantui.core.rules.template import render, template_names

__all__ = [
    "CONTEXT_KEYS",
    "FixTemplate",
    "Pattern",
    "Rule",
    "RuleSet",
    "load_rule_file",
    "load_rules",
    "load_rules_dir",
    "parse_rule",
    "render",
    "template_names",
]
