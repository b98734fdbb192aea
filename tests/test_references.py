"""Every reference in a rule or a doc resolves: a file in this repository or a public URL
(issue 16 item 7). The domain references the rules cite ship in docs/reference/."""

from __future__ import annotations

import re
from pathlib import Path

from wantui.core.catalog import CATALOG
from wantui.core.rules import load_rules

ROOT = Path(__file__).resolve().parents[1]
# a repository file named in a reference: docs/..., rules/..., fixtures/... with an extension
_REPO_FILE = re.compile(r"(?<![\w/.-])((?:docs|rules|fixtures|bench|scripts)/[\w./-]+\.\w+)")
_BARE_MD = re.compile(r"(?<![\w/.-])([\w-]+\.md)\b")
_URL = re.compile(r"https?://[^\s)\"'>]+")


def test_rule_references_name_files_that_exist() -> None:
    missing = []
    for rule in load_rules(include_user=False).rules:
        for ref in rule.references:
            text = _URL.sub("", ref)
            for name in _REPO_FILE.findall(text):
                if not (ROOT / name).is_file():
                    missing.append((rule.id, name))
            for name in _BARE_MD.findall(_REPO_FILE.sub("", text)):
                missing.append((rule.id, f"{name} (give its path in the repository)"))
    assert not missing, missing


def test_docs_links_resolve() -> None:
    """Relative Markdown links in README.md and docs/ point at files that exist."""
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in link.findall(doc.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            if not (doc.parent / target).exists():
                missing.append((str(doc.relative_to(ROOT)), target))
    assert not missing, missing


def test_catalog_holds_every_id_of_the_shipped_failure_catalog() -> None:
    text = (ROOT / "docs" / "reference" / "failure-catalog.md").read_text(encoding="utf-8")
    ids = set(re.findall(r"^\| ([a-z0-9]+(?:-[a-z0-9]+)+) \|", text, re.M))
    assert len(ids) > 40
    assert ids <= set(CATALOG), sorted(ids - set(CATALOG))
