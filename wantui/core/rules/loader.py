"""Strict loading of rule YAML files (rules/FORMAT.md).

Every problem is a :class:`WantuiError` naming the file, the field and, where YAML knows
it, the line. Built-in rules and folders asked for by name (``--rules``) are fatal when
broken; rules from user folders are reported and skipped.

Rules wantui does not ship run on RE2 (:mod:`.linear`), and a project folder's own rules
(``./.wantui/rules``) load only once the user trusts that folder (:mod:`.trust`).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import yaml

from wantui.core.architecture import BY_ID as _ARCHS
from wantui.core.catalog import CATALOG, is_known
from wantui.core.errors import WantuiError
from wantui.core.finding import Severity
from wantui.core.fixactions import validate_action
from wantui.core.resources import builtin_rules_dir, config_rules_dir
from wantui.core.rules.linear import compile_linear
from wantui.core.rules.model import (
    CONTEXT_KEYS,
    DEFAULT_WINDOW,
    RAISED_IN,
    RULE_STEPS,
    FixTemplate,
    Pattern,
    Rule,
    RuleSet,
)
from wantui.core.rules.regexcheck import backtracking_problem, parse_facts, required_literals
from wantui.core.rules.template import template_names
from wantui.core.similar import suggestion
from wantui.core.versions import check_spec
from wantui.core.yamlstrict import StrictLoader

TOP_FIELDS = {
    "id",
    "catalog",
    "title",
    "severity",
    "steps",
    "priority",
    "match",
    "caused_by",
    "message",
    "advice",
    "fixes",
    "references",
    "derive",
    "architectures",
    "musubi",
    "check",  # the same id's declaration for a check written in Python (core/check_ids.py)
}
REQUIRED_FIELDS = ("id", "catalog", "title", "severity", "steps", "priority", "match", "message")
MATCH_FIELDS = {
    "any",
    "all",
    "followed_by",
    "not",
    "window",
    "once",
    "raised_in",
    "repeated_in_datasets",
}
FIX_FIELDS = {"action", "params", "label"}
MAX_RULE_BYTES = 256 * 1024
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ARCH_IDS = frozenset(_ARCHS)


class _Ctx:
    """Raises errors that name the rule file and field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, message: str) -> WantuiError:
        return WantuiError(f"{field}: {message}" if field else message, path=self.path)


def _str_list(ctx: _Ctx, field: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.fail(field, "must be a list of strings")
    return list(value)


def _pattern(ctx: _Ctx, field: str, raw: Any, builtin: bool = True) -> Pattern:
    ignore_case = False
    if isinstance(raw, dict):
        unknown = set(raw) - {"regex", "ignore_case"}
        if unknown:
            raise ctx.fail(
                field, f"unknown key(s) {sorted(unknown)} (a pattern has regex, ignore_case)"
            )
        if "regex" not in raw:
            raise ctx.fail(field, "a pattern mapping needs `regex`")
        ignore_case = raw.get("ignore_case", False)
        if not isinstance(ignore_case, bool):
            raise ctx.fail(f"{field}.ignore_case", "must be true or false")
        raw = raw["regex"]
    if not isinstance(raw, str) or not raw:
        raise ctx.fail(
            field, "a pattern must be a non-empty string or {regex: ..., ignore_case: ...}"
        )
    if builtin and _shipped(ctx.path):
        # the rules wantui ships are checked by the test suite (tests/test_rules_linear.py,
        # every pattern compiled there), not compiled at every start
        try:
            lits, names = parse_facts(raw, ignore_case=ignore_case)
        except re.error as exc:
            raise ctx.fail(field, f"bad regex {raw!r}: {exc}") from None
        return Pattern(raw, None, ignore_case, tuple(lits) if lits else None, names)
    try:
        regex = re.compile(raw, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ctx.fail(field, f"bad regex {raw!r}: {exc}") from None
    lits = required_literals(regex)
    literals = tuple(lits) if lits else None
    if not builtin:
        # not shipped with wantui: matched by RE2, whose time is linear in the line
        linear, why = compile_linear(raw, ignore_case=ignore_case)
        if linear is None:
            raise ctx.fail(field, f"regex {raw!r} rejected: {why}")
        return Pattern(raw, linear, ignore_case, literals)
    # a built-in rule file from elsewhere (tests, a rules dir override) is checked here
    problem = backtracking_problem(regex)
    if problem:
        raise ctx.fail(field, f"regex {raw!r} rejected: {problem}")
    return Pattern(raw, regex, ignore_case, literals)


@functools.lru_cache(maxsize=1)
def _shipped_dir() -> Path:
    return builtin_rules_dir().resolve()


def _shipped(path: Path) -> bool:
    try:
        return Path(path).resolve().parent == _shipped_dir()
    except OSError:
        return False


def _patterns(ctx: _Ctx, field: str, raw: Any, builtin: bool = True) -> list[Pattern]:
    if raw is None:
        return []
    if isinstance(raw, (str, dict)):
        raw = [raw]
    if not isinstance(raw, list):
        raise ctx.fail(field, "must be a list of patterns")
    return [_pattern(ctx, f"{field}[{i}]", p, builtin) for i, p in enumerate(raw)]


def parse_rule(data: Any, path: Path, *, builtin: bool = True) -> Rule:
    """Validate one rule's parsed YAML; raise WantuiError naming file and field."""
    ctx = _Ctx(path)
    if not isinstance(data, dict):
        raise ctx.fail("", "a rule file must be a YAML mapping")
    unknown = sorted(set(map(str, data)) - TOP_FIELDS)
    if unknown:
        raise ctx.fail(unknown[0], f"unknown field{suggestion(unknown[0], TOP_FIELDS)}")
    for name in REQUIRED_FIELDS:
        if name not in data or data[name] is None:
            raise ctx.fail(name, "missing required field")
    rid = data["id"]
    if not isinstance(rid, str) or not _ID.match(rid):
        raise ctx.fail("id", f"must be kebab-case, not {rid!r}")
    if rid != path.stem:
        raise ctx.fail("id", f"'{rid}' must equal the file stem '{path.stem}'")
    catalog = data["catalog"]
    if not isinstance(catalog, str) or not is_known(catalog):
        raise ctx.fail(
            "catalog", f"unknown catalog id {catalog!r}{suggestion(str(catalog), CATALOG)}"
        )
    for name in ("title", "message"):
        if not isinstance(data[name], str) or not data[name].strip():
            raise ctx.fail(name, "must be a non-empty string")
    try:
        severity = Severity(data["severity"])
    except ValueError:
        raise ctx.fail(
            "severity", f"must be error, warning or info, not {data['severity']!r}"
        ) from None
    steps = _str_list(ctx, "steps", data["steps"])
    bad = [s for s in steps if s not in RULE_STEPS]
    if bad or not steps:
        raise ctx.fail("steps", f"must list steps from {sorted(RULE_STEPS)}, got {steps!r}")
    priority = data["priority"]
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 100:
        raise ctx.fail("priority", f"must be an integer 0-100, not {priority!r}")

    match = data["match"]
    if not isinstance(match, dict):
        raise ctx.fail("match", "must be a mapping with any/all/followed_by/not/window/once")
    unknown = sorted(set(map(str, match)) - MATCH_FIELDS)
    if unknown:
        raise ctx.fail(
            f"match.{unknown[0]}", f"unknown field{suggestion(unknown[0], MATCH_FIELDS)}"
        )
    trigger = _patterns(ctx, "match.any", match.get("any"), builtin)
    if not trigger:
        raise ctx.fail("match.any", "missing: at least one trigger pattern is required")
    window = match.get("window", DEFAULT_WINDOW)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 10000:
        raise ctx.fail("match.window", f"must be an integer 1-10000, not {window!r}")
    once = match.get("once", True)
    if not isinstance(once, bool):
        raise ctx.fail("match.once", "must be true or false")
    raised_in = _str_list(ctx, "match.raised_in", match.get("raised_in"))
    bad = [o for o in raised_in if o not in RAISED_IN]
    if bad:
        raise ctx.fail("match.raised_in", f"unknown owner {bad[0]!r}; one of {sorted(RAISED_IN)}")
    repeated = match.get("repeated_in_datasets")
    if repeated is not None and not (isinstance(repeated, str) and repeated.isidentifier()):
        raise ctx.fail("match.repeated_in_datasets", "must name a capture of match.any")
    architectures = _str_list(ctx, "architectures", data.get("architectures"))
    bad = [a for a in architectures if a not in ARCH_IDS]
    if bad:
        raise ctx.fail(
            "architectures", f"unknown architecture {bad[0]!r}; one of {sorted(ARCH_IDS)}"
        )

    musubi = data.get("musubi", "")
    if not isinstance(musubi, str) or (musubi and check_spec(musubi)):
        raise ctx.fail("musubi", check_spec(str(musubi)) or "must be a version spec string")

    rule = Rule(
        id=rid,
        catalog=catalog,
        title=data["title"],
        severity=severity,
        steps=tuple(steps),
        priority=priority,
        any=trigger,
        all=_patterns(ctx, "match.all", match.get("all"), builtin),
        followed_by=_patterns(ctx, "match.followed_by", match.get("followed_by"), builtin),
        none=_patterns(ctx, "match.not", match.get("not"), builtin),
        window=window,
        once=once,
        message=data["message"],
        caused_by=tuple(_str_list(ctx, "caused_by", data.get("caused_by"))),
        advice=_str_list(ctx, "advice", data.get("advice")),
        references=_str_list(ctx, "references", data.get("references")),
        architectures=tuple(architectures),
        raised_in=tuple(raised_in),
        musubi=musubi,
        repeated_in_datasets=repeated,
        path=path,
        builtin=builtin,
    )
    for cid in rule.caused_by:
        if not _ID.match(cid):
            raise ctx.fail("caused_by", f"{cid!r} is not a rule id")

    derive = data.get("derive") or {}
    if not isinstance(derive, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in derive.items()
    ):
        raise ctx.fail("derive", "must map names to template strings")
    rule.derive = dict(derive)

    if repeated is not None and repeated not in {g for p in rule.any for g in p.groups}:
        raise ctx.fail(
            "match.repeated_in_datasets", f"no pattern of match.any captures {repeated!r}"
        )
    known = rule.capture_names | CONTEXT_KEYS
    # values the engine adds for these match fields
    if rule.raised_in:
        known |= {"raised_in", "raised_at"}
    if rule.repeated_in_datasets:
        known |= {"first_dataset", "dataset"}
    for name, tmpl in rule.derive.items():
        _check_template(ctx, f"derive.{name}", tmpl, known)
    known |= set(rule.derive)
    _check_template(ctx, "title", rule.title, known)
    _check_template(ctx, "message", rule.message, known)
    for i, a in enumerate(rule.advice):
        _check_template(ctx, f"advice[{i}]", a, known)

    fixes = data.get("fixes") or []
    if not isinstance(fixes, list):
        raise ctx.fail("fixes", "must be a list of {action, params, label}")
    for i, fx in enumerate(fixes):
        field = f"fixes[{i}]"
        if not isinstance(fx, dict):
            raise ctx.fail(field, "must be a mapping {action, params, label}")
        unknown = sorted(set(map(str, fx)) - FIX_FIELDS)
        if unknown:
            raise ctx.fail(
                f"{field}.{unknown[0]}", f"unknown field{suggestion(unknown[0], FIX_FIELDS)}"
            )
        action = fx.get("action")
        params = fx.get("params") or {}
        label = fx.get("label", "")
        if not isinstance(action, str):
            raise ctx.fail(f"{field}.action", "missing or not a string")
        if not isinstance(params, dict):
            raise ctx.fail(f"{field}.params", "must be a mapping")
        if not isinstance(label, str):
            raise ctx.fail(f"{field}.label", "must be a string")
        problem = validate_action(action, params, templated=True)
        if problem:
            raise ctx.fail(field, problem)
        for key, value in params.items():
            if isinstance(value, str):
                _check_template(ctx, f"{field}.params.{key}", value, known)
        _check_template(ctx, f"{field}.label", label, known)
        rule.fixes.append(FixTemplate(action, dict(params), label))
    return rule


def _check_template(ctx: _Ctx, field: str, template: str, known: set[str]) -> None:
    for name in sorted(template_names(template)):
        if name not in known:
            raise ctx.fail(
                field,
                f"template names unknown capture or context value '{{{name}}}'{suggestion(name, known)}",
            )


def load_rule_file(path: str | Path, *, builtin: bool = True) -> Rule:
    """Read and validate one rule file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_RULE_BYTES:
            raise WantuiError(f"rule file larger than {MAX_RULE_BYTES // 1024} KiB", path=path)
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise WantuiError("rule file is not UTF-8 text", path=path) from None
    except OSError as exc:
        raise WantuiError(f"cannot read rule file: {exc.strerror or exc}", path=path) from None
    try:
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise WantuiError(
            f"invalid YAML: {problem}",
            path=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    return parse_rule(data, path, builtin=builtin)


def load_rules_dir(folder: Path, *, builtin: bool) -> tuple[list[Rule], list[WantuiError]]:
    """Every ``*.yaml``/``*.yml`` directly in ``folder`` (not examples/)."""
    rules: list[Rule] = []
    problems: list[WantuiError] = []
    try:
        if not folder.is_dir():
            return rules, problems
        files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    except OSError as exc:
        # an unreadable ~/.config (permissions, a name too long): that folder's rules
        # are skipped and said; the built-in ones still load
        problems.append(
            WantuiError(f"cannot read the rule folder: {exc.strerror or exc}", path=folder)
        )
        return rules, problems
    for f in files:
        try:
            rules.append(load_rule_file(f, builtin=builtin))
        except WantuiError as exc:
            problems.append(exc)
    return rules, problems


def _env_dirs() -> list[Path]:
    raw = os.environ.get("WANTUI_RULES_PATH", "")
    return [Path(p) for p in raw.split(os.pathsep) if p]


def load_rules(
    extra_dirs: list[str | Path] | None = None,
    *,
    include_user: bool = True,
    builtin_dir: str | Path | None = None,
    include_builtin: bool = True,
) -> RuleSet:
    """Built-in rules, then user folders (``~/.config/wantui/rules``, ``./.wantui/rules``
    when the user trusts the current folder, ``WANTUI_RULES_PATH``), then ``extra_dirs``;
    a later rule with the same id replaces an earlier one (said in ``RuleSet.notices``
    when it replaces a built-in rule).

    Raises WantuiError for a broken built-in rule or a broken rule in ``extra_dirs`` (the
    user asked for those by name); a broken rule in a user folder is skipped and listed
    in ``RuleSet.problems``; a project folder's rules that are not trusted are skipped
    and said in ``RuleSet.notices``.
    """
    merged: dict[str, Rule] = {}
    problems: list[WantuiError] = []
    notices: list[str] = []
    base = Path(builtin_dir) if builtin_dir is not None else builtin_rules_dir()
    rules, errs = load_rules_dir(base, builtin=True) if include_builtin else ([], [])
    if errs:
        raise errs[0]
    for r in rules:
        merged[r.id] = r

    def add(found: list[Rule]) -> None:
        for r in found:
            old = merged.get(r.id)
            if old is not None and old.builtin:
                notices.append(f"rule '{r.id}' from {r.path} replaces the built-in rule")
            merged[r.id] = r

    if include_user:
        for folder in [config_rules_dir(), *_project_rules(notices), *_env_dirs()]:
            rules, errs = load_rules_dir(folder, builtin=False)
            problems.extend(errs)
            add(rules)
    for folder in extra_dirs or []:
        folder = Path(folder)
        if not folder.is_dir():
            raise WantuiError("rule folder not found", path=folder)
        rules, errs = load_rules_dir(folder, builtin=False)
        if errs:
            raise errs[0]
        add(rules)
    problems.extend(_cross_check(list(merged.values())))
    return RuleSet(rules=list(merged.values()), problems=problems, notices=notices)


def _project_rules(notices: list[str]) -> list[Path]:
    """``./.wantui/rules`` when the user trusts this folder's rules as they are now; else
    nothing, and a notice when there are rules it leaves out."""
    from wantui.core.rules import trust  # (tomlkit and hashing: only when user rules load)

    try:
        st = trust.state(Path.cwd())
    except OSError:  # the current folder was removed: no project rules
        return []
    if st.files == 0:
        return []
    if st.trusted:
        return [st.rules]
    notices.append(
        f"{st.files} rule file(s) in {st.rules} not loaded: {st.reason}"
        " (read them, then `wantui rules trust` to load them)"
    )
    return []


def _cross_check(rules: list[Rule]) -> list[WantuiError]:
    """caused_by must name rules that exist (reported, not fatal: a user may drop one)."""
    ids = {r.id for r in rules}
    out: list[WantuiError] = []
    for r in rules:
        for cid in r.caused_by:
            if cid not in ids:
                out.append(
                    WantuiError(
                        f"caused_by: unknown rule id '{cid}'{suggestion(cid, ids)}", path=r.path
                    )
                )
    return out
