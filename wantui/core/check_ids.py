"""The declarations of the finding ids that wantui's checks written in Python emit.

A log rule declares its id, catalog id, severity, texts and fixes in ``rules/<id>.yaml``.
A check written in Python (arguments, dataset, model files, environment, plan) declares
its ids the same way, in ``rules/checks/<id>.yaml``, or, when a log rule of the same id
exists, in that rule file's ``check:`` block (one id, one file). The check code passes
only what it found (captures, location, computed fix parameters); the title, message and
advice are the declaration's templates filled in by :func:`wantui.core.findings.emit`.
So ``wantui rules list`` / ``rules explain`` and the README's table cover every id a user
can see, and no check can emit an id that is not declared (see rules/FORMAT.md).

Declarations are read lazily, one file per id on first use, so a command pays only for
the ids it emits.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wantui.core.catalog import is_known
from wantui.core.errors import WantuiError
from wantui.core.finding import Severity
from wantui.core.resources import builtin_rules_dir

CHECKS_DIR = "checks"
AREAS = ("arguments", "dataset", "models", "environment", "run", "plan", "project")
STEPS = frozenset({"latents", "te", "train", "any"})
FIELDS = {
    "id",
    "catalog",
    "area",
    "severity",
    "steps",
    "priority",
    "title",
    "message",
    "advice",
    "fixes",
    "examples",
    "references",
}
# a rule file's `check:` block: the rule gives id and catalog
BLOCK_FIELDS = FIELDS - {"id", "catalog"}
REQUIRED = ("id", "catalog", "area", "severity", "title", "message")
FIX_FIELDS = {"action", "label"}
MAX_BYTES = 64 * 1024
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class FixOffer:
    """A fix a check offers: its action, and a label template (parameters are computed)."""

    action: str
    label: str = ""


@dataclass(frozen=True)
class Advice:
    """One advice line: a template, shown only ``when`` a value is set / ``unless`` it is."""

    text: str
    when: str = ""
    unless: str = ""

    def applies(self, values: dict[str, str | None]) -> bool:
        if self.when and not values.get(self.when):
            return False
        return not (self.unless and values.get(self.unless))


@dataclass(frozen=True)
class CheckSpec:
    """One declared check id: everything about it but what a check found."""

    id: str
    catalog: str
    area: str
    severity: Severity
    title: str
    message: str
    steps: tuple[str, ...] = ("any",)
    priority: int = 60
    advice: tuple[Advice, ...] = ()
    fixes: tuple[FixOffer, ...] = ()
    examples: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    path: Path | None = None
    in_rule_file: bool = False  # declared in the `check:` block of a log rule's file

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(f.action for f in self.fixes)


def _fail(path: Path, fld: str, message: str) -> WantuiError:
    return WantuiError(f"{fld}: {message}" if fld else message, path=path)


def _strings(path: Path, fld: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, fld, "must be a list of strings")
    return tuple(value)


def _advice(path: Path, fld: str, value: Any) -> tuple[Advice, ...]:
    out: list[Advice] = []
    for i, item in enumerate(value or []):
        if isinstance(item, str):
            out.append(Advice(item))
            continue
        ok = isinstance(item, dict) and set(item) <= {"text", "when", "unless"}
        if not ok or not all(isinstance(v, str) for v in item.values()) or "text" not in item:
            raise _fail(path, f"{fld}[{i}]", "must be a string or {text, when, unless}")
        out.append(Advice(item["text"], item.get("when", ""), item.get("unless", "")))
    if value is not None and not isinstance(value, list):
        raise _fail(path, fld, "must be a list")
    return tuple(out)


def parse_spec(data: Any, path: Path, *, rule: dict[str, Any] | None = None) -> CheckSpec:
    """Validate one declaration (a checks file, or a rule file's ``check:`` block with
    ``rule`` the rule's mapping); raise WantuiError naming the file and field."""
    prefix = "check." if rule is not None else ""
    if not isinstance(data, dict):
        raise _fail(path, prefix.rstrip("."), "must be a YAML mapping")
    allowed = BLOCK_FIELDS if rule is not None else FIELDS
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise _fail(path, prefix + unknown[0], "unknown field")
    if rule is not None:
        data = {"id": rule.get("id"), "catalog": rule.get("catalog"), **data}
        data.setdefault("severity", rule.get("severity"))
    for name in REQUIRED:
        if data.get(name) is None:
            raise _fail(path, prefix + name, "missing required field")
    cid, catalog = data["id"], data["catalog"]
    if not isinstance(cid, str) or not _ID.match(cid):
        raise _fail(path, "id", f"must be kebab-case, not {cid!r}")
    if cid != path.stem:
        raise _fail(path, "id", f"'{cid}' must equal the file stem '{path.stem}'")
    if not isinstance(catalog, str) or not is_known(catalog):
        raise _fail(path, "catalog", f"unknown catalog id {catalog!r}")
    if data["area"] not in AREAS:
        raise _fail(path, prefix + "area", f"must be one of {', '.join(AREAS)}")
    try:
        severity = Severity(data["severity"])
    except ValueError:
        raise _fail(path, prefix + "severity", "must be error, warning or info") from None
    steps = _strings(path, prefix + "steps", data.get("steps", ["any"]))
    if not steps or set(steps) - STEPS:
        raise _fail(path, prefix + "steps", f"must be a list of {sorted(STEPS)}")
    priority = data.get("priority", 60)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 100:
        raise _fail(path, prefix + "priority", "must be an integer 0-100")
    for name in ("title", "message"):
        if not isinstance(data[name], str) or not data[name].strip():
            raise _fail(path, prefix + name, "must be a non-empty string")
    fixes: list[FixOffer] = []
    raw = data.get("fixes") or []
    if not isinstance(raw, list):
        raise _fail(path, prefix + "fixes", "must be a list of {action, label}")
    from wantui.core.fixes.actions import UNITS  # the closed set of fix actions

    for i, fx in enumerate(raw):
        fld = f"{prefix}fixes[{i}]"
        if not isinstance(fx, dict) or set(map(str, fx)) - FIX_FIELDS:
            raise _fail(path, fld, "must be a mapping {action, label}")
        if fx.get("action") not in UNITS:
            raise _fail(path, fld + ".action", f"unknown fix action {fx.get('action')!r}")
        label = fx.get("label", "")
        if not isinstance(label, str):
            raise _fail(path, fld + ".label", "must be a string")
        fixes.append(FixOffer(fx["action"], label))
    return CheckSpec(
        id=cid,
        catalog=catalog,
        area=data["area"],
        severity=severity,
        title=data["title"],
        message=data["message"].rstrip("\n"),
        steps=steps,
        priority=priority,
        advice=_advice(path, prefix + "advice", data.get("advice")),
        fixes=tuple(fixes),
        examples=_strings(path, prefix + "examples", data.get("examples")),
        references=_strings(path, prefix + "references", data.get("references")),
        path=path,
        in_rule_file=rule is not None,
    )


def _load_yaml(path: Path) -> Any:
    import yaml  # on first use: most commands never read a declaration

    from wantui.core.yamlstrict import StrictLoader

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise WantuiError(f"cannot read: {exc.strerror or exc}", path=path) from None
    if len(raw) > MAX_BYTES:
        raise WantuiError(f"larger than {MAX_BYTES // 1024} KiB", path=path)
    try:
        return yaml.load(raw.decode("utf-8"), Loader=StrictLoader)  # noqa: S506 - safe subclass
    except UnicodeDecodeError:
        raise WantuiError("not UTF-8 text", path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise WantuiError(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            path=path,
            line=mark.line + 1 if mark else None,
        ) from None


def _load_path(path: Path) -> CheckSpec | None:
    data = _load_yaml(path)
    if path.parent.name == CHECKS_DIR:
        return parse_spec(data, path)
    if isinstance(data, dict) and "check" in data:
        return parse_spec(data["check"], path, rule=data)
    return None


@functools.cache
def check_spec(rule_id: str, folder: Path | None = None) -> CheckSpec | None:
    """The declaration of ``rule_id``, or None when no check declares it."""
    if not _ID.match(rule_id):
        return None
    root = folder or builtin_rules_dir()
    for path in (root / CHECKS_DIR / f"{rule_id}.yaml", root / f"{rule_id}.yaml"):
        if path.is_file():
            spec = _load_path(path)
            if spec is not None:
                return spec
    return None


def all_check_specs(folder: Path | None = None) -> list[CheckSpec]:
    """Every declared check id, sorted by id (``rules list``, the README table, tests)."""
    root = folder or builtin_rules_dir()
    specs = [parse_spec(_load_yaml(p), p) for p in sorted((root / CHECKS_DIR).glob("*.yaml"))]
    for p in sorted(root.glob("*.yaml")):
        try:
            head = p.read_bytes()
        except OSError:
            continue
        if b"\ncheck:" in head or head.startswith(b"check:"):
            spec = _load_path(p)
            if spec is not None:
                specs.append(spec)
    return sorted(specs, key=lambda s: s.id)
