"""One registry of finding ids: every id a check written in Python emits is declared once
(rules/checks/<id>.yaml, or the `check:` block of the log rule of the same id), and
`wantui rules list` / `rules explain` cover it."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from wantui.core.check_ids import all_check_specs, check_spec, parse_spec
from wantui.core.errors import WantuiError
from wantui.core.finding import Severity
from wantui.core.findings import emit
from wantui.core.fixactions import FixAction
from wantui.core.rules import load_rules
from wantui.core.rules.registry import entries, explain

REPO = Path(__file__).resolve().parent.parent
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")


def _emitted_ids() -> dict[str, str]:
    """Every literal id the product's code passes to ``emit`` (first argument), with one
    place it is emitted from."""
    found: dict[str, str] = {}
    for path in sorted((REPO / "wantui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            first = node.args[0]
            if (
                name == "emit"
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and _ID.match(first.value)
            ):
                found.setdefault(first.value, f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_every_emitted_id_is_declared() -> None:
    emitted = _emitted_ids()
    assert emitted, "no emit() call found: the scan is broken"
    missing = {i: where for i, where in emitted.items() if check_spec(i) is None}
    assert not missing, f"emitted but not declared (add rules/checks/<id>.yaml): {missing}"


def test_findings_are_built_only_through_the_registry() -> None:
    """A check cannot bypass the registry: ``Finding(...)`` is built only by the emit
    machinery (core/findings.py) and by the matcher from a rule file's own texts, and
    ``make_finding`` is called only by ``emit``."""
    allowed = {
        "Finding": {"wantui/core/findings.py", "wantui/core/matcher.py"},
        "make_finding": {"wantui/core/findings.py"},
    }
    stray: list[str] = []
    for path in sorted((REPO / "wantui").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name in allowed and rel not in allowed[name]:
                    stray.append(f"{rel}:{node.lineno} {name}(...)")
    assert not stray, f"findings built outside the registry's emit: {stray}"


def test_declarations_are_valid_and_declared_once() -> None:
    specs = all_check_specs()
    assert specs
    ids = [s.id for s in specs]
    assert len(ids) == len(set(ids))
    rule_ids = {p.stem for p in (REPO / "rules").glob("*.yaml")}
    for s in specs:
        if not s.in_rule_file:
            # an id with a log rule keeps its check wording in that rule's file
            assert s.id not in rule_ids, f"{s.id}: declared in rules/checks/ and rules/"


def test_every_id_is_listed_and_explained() -> None:
    rules = load_rules(include_user=False)
    found = entries(rules)
    ids = {e.id for e in found}
    assert {s.id for s in all_check_specs()} <= ids
    assert {r.id for r in rules.rules} <= ids
    for e in found:
        text = explain(e.id, rules)
        assert text.startswith(f"{e.id}: ")
        if e.check is not None:
            assert "checks" in text


def test_cli_lists_and_explains_a_check_id() -> None:
    spec = next(s for s in all_check_specs() if not s.in_rule_file)
    cmd = [sys.executable, "-m", "wantui", "rules"]
    listed = subprocess.run(
        [*cmd, "list", "--json", "--no-user-rules"], capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    rows = {r["id"]: r for r in json.loads(listed.stdout)["rules"]}
    assert rows[spec.id]["found_by"] == "check"
    assert rows["dataset-empty"]["found_by"] in ("log", "log, check")
    shown = subprocess.run(
        [*cmd, "explain", spec.id, "--no-user-rules"], capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0 and shown.stdout.startswith(f"{spec.id}: "), shown.stderr
    unknown = subprocess.run(
        [*cmd, "explain", "no-such-idx"], capture_output=True, text=True, timeout=120
    )
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr


def _write(tmp_path: Path, text: str, name: str = "demo-check") -> Path:
    folder = tmp_path / "checks"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_emit_fills_the_declared_templates() -> None:
    spec = check_spec("toml-key-wrong-kind")
    assert spec is not None
    f = emit(
        "toml-key-wrong-kind",
        origin="check",
        captures={"key": "frame_extraction", "table": "datasets[0]"},
        text={
            "key_kind": "a video",
            "entry_kind": "an image",
            "kind": "image",
            "why": "it has no `video_directory`",
            "path": "data['datasets'][0]['frame_extraction']",
            "other_kind": "video",
        },
        fixes=[
            FixAction(
                "toml_remove_key",
                {"file": "dataset_config", "table": "datasets[0]", "key": "frame_extraction"},
            )
        ],
    )
    assert f.title == "`frame_extraction` is a video-dataset key in an image dataset"
    assert "rejects `frame_extraction`" in f.message and "\n" not in f.message
    assert f.catalog == spec.catalog and f.severity is Severity.ERROR
    assert f.captures == {
        "key": "frame_extraction",
        "table": "datasets[0]",
    }  # text is not a capture


def test_strict_emit_refuses_what_the_declaration_does_not_say() -> None:
    with pytest.raises(WantuiError, match="not declared"):
        emit("no-such-check-id", origin="check")
    with pytest.raises(WantuiError, match="no value"):
        emit("toml-key-wrong-kind", origin="check", captures={"key": "k", "table": "t"})
    with pytest.raises(WantuiError, match="not declared"):
        emit(
            "dataset-no-source",
            origin="check",
            text={"n": 1},
            fixes=[
                FixAction("toml_remove_key", {"file": "dataset_config", "table": "x", "key": "y"})
            ],
        )


def test_conditional_advice() -> None:
    plain = emit("dataset-no-source", origin="check", text={"n": 2, "renamed": ""})
    renamed = emit("dataset-no-source", origin="check", text={"n": 2, "renamed": "yes"})
    assert plain.advice and plain.advice[0].startswith("Add `video_directory")
    assert renamed.advice == ["Rename the path key (see the finding above)."]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            "id: demo-check\ncatalog: toml-extra-key\narea: dataset\nseverity: error\ntitle: t\n",
            "message",
        ),
        (
            "id: other\ncatalog: toml-extra-key\narea: dataset\nseverity: error\ntitle: t\nmessage: m\n",
            "id",
        ),
        (
            "id: demo-check\ncatalog: nope\narea: dataset\nseverity: error\ntitle: t\nmessage: m\n",
            "catalog",
        ),
        (
            "id: demo-check\ncatalog: toml-extra-key\narea: moon\nseverity: error\ntitle: t\nmessage: m\n",
            "area",
        ),
        (
            "id: demo-check\ncatalog: toml-extra-key\narea: dataset\nseverity: fatal\ntitle: t\nmessage: m\n",
            "severity",
        ),
        (
            "id: demo-check\ncatalog: toml-extra-key\narea: dataset\nseverity: error\ntitle: t\nmessage: m\nfixes: [{action: rm_rf}]\n",
            "fixes[0].action",
        ),
        (
            "id: demo-check\ncatalog: toml-extra-key\narea: dataset\nseverity: error\ntitle: t\nmessage: m\ncolour: red\n",
            "colour",
        ),
        ("id: demo-check\ncatalog: toml-extra-key\nid: again\n", "duplicate key"),
    ],
    ids=[
        "no-message",
        "id-not-stem",
        "unknown-catalog",
        "bad-area",
        "bad-severity",
        "bad-fix",
        "unknown-field",
        "duplicate-key",
    ],
)
def test_bad_declarations_name_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(WantuiError) as err:
        all_check_specs(tmp_path)
    assert field in str(err.value) and err.value.path == str(path)


def test_rule_file_check_block_inherits_id_catalog_and_severity(tmp_path: Path) -> None:
    data = {
        "id": "demo-rule",
        "catalog": "dataset-empty",
        "severity": "warning",
        "check": {"area": "dataset", "title": "t {n}", "message": "m"},
    }
    spec = parse_spec(data["check"], tmp_path / "demo-rule.yaml", rule=data)
    assert (spec.id, spec.catalog, spec.severity, spec.in_rule_file) == (
        "demo-rule",
        "dataset-empty",
        Severity.WARNING,
        True,
    )
