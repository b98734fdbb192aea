"""The musubi-tuner a step will run, read from its source: the reference the checks use.

The checkout is found from the step's script path, the project's ``musubi_dir``, or the
``site-packages`` of the pipeline's interpreter (an installed ``musubi_tuner`` package, or
the folder an editable install points to). Its argparse definitions and its dataset
schema keys are read with :mod:`ast`: nothing of it is imported or run (no torch), and no
``git`` runs in it (a repository's config can run programs); the commit comes from the
files in ``.git``. The result is cached per checkout and commit under the user's cache
folder (``$XDG_CACHE_HOME/wantui/musubi``), keyed also by the size and mtime of every file
read, so an edited parser is read again.

When nothing is found, or the source cannot be read as a musubi-tuner parser, the checks
use the bundled catalog (musubi-tuner v0.3.4) and say so.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wantui.core.args.catalog import STEP_SCRIPTS, ArgSpec, specs_of
from wantui.core.finding import Finding
from wantui.core.versions import BUNDLED, holds, parse_version

if TYPE_CHECKING:
    from wantui.core.project import Project

READER_VERSION = 2
BUNDLED_VERSION = "v" + BUNDLED
MAX_SOURCE_BYTES = 4_000_000  # a parser file is ~40 kB; anything huge is not one

# script -> (file under the package, functions whose add_argument calls count; "*" means
# the ``_add_*`` helpers and ``setup_parser_common`` of the file)
SOURCES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "wan_cache_latents.py": [
        ("cache_latents.py", ("setup_parser_common",)),
        ("wan_cache_latents.py", ("wan_setup_parser",)),
    ],
    "wan_cache_text_encoder_outputs.py": [
        ("cache_text_encoder_outputs.py", ("setup_parser_common",)),
        ("wan_cache_text_encoder_outputs.py", ("wan_setup_parser",)),
    ],
    "wan_train_network.py": [
        ("training/parser_common.py", ("*",)),
        ("wan_train_network.py", ("wan_setup_parser",)),
    ],
    # HunyuanVideo-only options, kept to explain "why is this flag unknown here".
    "hv_options": [
        ("cache_latents.py", ("hv_setup_parser",)),
        ("cache_text_encoder_outputs.py", ("hv_setup_parser",)),
    ],
}
DATASET_SOURCE = "dataset/config_utils.py"
DATASET_TABLES = (
    "DATASET_ASCENDABLE_SCHEMA",
    "IMAGE_DATASET_DISTINCT_SCHEMA",
    "VIDEO_DATASET_DISTINCT_SCHEMA",
)

# Choices computed at run time (``WAN_CONFIGS.keys()``, accelerate's ``DynamoBackend``)
# cannot be read from the source; these were checked by hand against v0.3.4.
DYNAMIC_CHOICES: dict[str, list[str] | None] = {
    "--task": [
        "t2v-14B",
        "t2v-1.3B",
        "i2v-14B",
        "t2i-14B",
        "flf2v-14B",
        "t2v-1.3B-FC",
        "t2v-14B-FC",
        "i2v-14B-FC",
        "i2v-A14B",
        "t2v-A14B",
    ],
    "--dynamo_backend": None,  # differs between accelerate versions: not guessed
}


# -- reading parser source ----------------------------------------------------------------


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _type_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return {"str": "str", "int": "int", "float": "float"}.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        return "path" if node.attr == "Path" else node.attr
    return "str"


def parse_options(source: str, functions: tuple[str, ...]) -> list[dict[str, Any]]:
    """The ``add_argument`` calls in ``functions`` of ``source``, as catalog entries."""
    out: list[dict[str, Any]] = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef):
            continue
        if "*" in functions:
            if not (fn.name.startswith("_add_") or fn.name == "setup_parser_common"):
                continue
        elif fn.name not in functions:
            continue
        for call in ast.walk(fn):
            if not (
                isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "add_argument"
            ):
                continue
            names = [n for n in (_literal(a) for a in call.args) if isinstance(n, str)]
            if not names:
                continue
            kw = {k.arg: k.value for k in call.keywords if k.arg}
            action = _literal(kw["action"]) if "action" in kw else None
            switch = action in ("store_true", "store_false", "store_const", "count")
            spec: dict[str, Any] = {
                "names": names,
                "type": "flag" if switch else _type_name(kw["type"]) if "type" in kw else "str",
                "required": bool(_literal(kw["required"])) if "required" in kw else False,
                "default": _literal(kw["default"])
                if "default" in kw
                else (False if action == "store_true" else None),
                "nargs": _literal(kw["nargs"]) if "nargs" in kw else None,
                "choices": _literal(kw["choices"]) if "choices" in kw else None,
                "help": (_literal(kw["help"]) or "") if "help" in kw else "",
            }
            if "choices" in kw and spec["choices"] is None:
                spec["choices"] = DYNAMIC_CHOICES.get(names[0])
            if isinstance(spec["default"], (list, tuple)):
                spec["default"] = list(spec["default"])
            if isinstance(spec["choices"], (list, tuple)):
                spec["choices"] = list(spec["choices"])
            out.append(spec)
    return out


def parse_dataset_keys(source: str) -> dict[str, list[str]]:
    """The string keys of config_utils.py's voluptuous schema tables (``"key": type``)."""
    out: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for target in node.targets:
                name = getattr(target, "id", None)
                if name in DATASET_TABLES:
                    out[name] = [k.value for k in node.value.keys if isinstance(k, ast.Constant)
                                 and isinstance(k.value, str)]  # fmt: skip
    return out


def read_sources(show: Any) -> dict[str, Any]:
    """Catalog data (``scripts`` and ``dataset``) from ``show(relative path) -> text``."""
    data: dict[str, Any] = {"scripts": {}, "dataset": {}}
    for script, parts in SOURCES.items():
        opts: list[dict[str, Any]] = []
        for path, functions in parts:
            opts.extend(parse_options(show(path), functions))
        data["scripts"][script] = opts
    try:
        data["dataset"] = parse_dataset_keys(show(DATASET_SOURCE))
    except (OSError, SyntaxError, ValueError):
        data["dataset"] = {}
    return data


# -- finding the checkout -----------------------------------------------------------------


def package_dir(folder: Path) -> Path | None:
    """The ``musubi_tuner`` package in or at ``folder`` (a checkout, ``src``, the package)."""
    for cand in (folder / "src" / "musubi_tuner", folder / "musubi_tuner", folder):
        if (cand / "wan_train_network.py").is_file() and (
            cand / "training" / "parser_common.py"
        ).is_file():
            return cand
    return None


def _from_site_packages(python: Path) -> Path | None:
    """Where an interpreter imports ``musubi_tuner`` from, read from its venv's
    ``site-packages`` (an installed package, an editable ``.pth`` or ``direct_url.json``)
    without running it."""
    prefix = python.parent.parent
    sites = list(prefix.glob("lib/python3*/site-packages")) + [prefix / "Lib" / "site-packages"]
    for site in sites:
        if not site.is_dir():
            continue
        found = package_dir(site / "musubi_tuner")
        if found:
            return found
        for pth in sorted(site.glob("*.pth")):
            try:
                lines = pth.read_text(encoding="utf-8", errors="replace")[:65536].splitlines()
            except OSError:
                continue
            for line in lines:
                if line.startswith(("import ", "#")) or not line.strip():
                    continue  # an import line is code: never run, never followed
                found = package_dir(Path(line.strip()))
                if found:
                    return found
        for direct in sorted(site.glob("musubi_tuner-*.dist-info/direct_url.json")):
            try:
                url = json.loads(direct.read_text(encoding="utf-8")).get("url", "")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(url, str) and url.startswith("file://"):
                found = package_dir(Path(url[len("file://") :]))
                if found:
                    return found
    return None


@dataclass(frozen=True)
class Checkout:
    package: Path  # the musubi_tuner package folder
    found_by: str  # what pointed to it: "script", "musubi_dir" or "python"

    @property
    def root(self) -> Path:
        """The repository folder (above ``src/musubi_tuner``), or the package itself."""
        p = self.package
        return p.parent.parent if p.parent.name == "src" else p


def find_checkout(project: Project) -> Checkout | None:
    """The musubi-tuner the project's steps will run, or None."""
    for step in project.steps.values():
        if not step.enabled:
            continue
        script = project.script_path(step)
        for folder in list(script.parents)[:4]:
            found = package_dir(folder)
            if found:
                return Checkout(found, "script")
    if project.musubi_dir:
        found = package_dir(project.resolve(project.musubi_dir))
        if found:
            return Checkout(found, "musubi_dir")
    if project.python:
        found = _from_site_packages(project.resolve(project.python))
        if found:
            return Checkout(found, "python")
    return None


def commit_of(root: Path) -> str | None:
    """HEAD's commit, read from ``.git`` (a folder, or a worktree's ``gitdir:`` file)."""
    git = root / ".git"
    try:
        if git.is_file():
            m = re.match(r"gitdir:\s*(.+)", git.read_text(encoding="utf-8")[:4096])
            if not m:
                return None
            git = (root / m.group(1).strip()).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8")[:4096].strip()
        if re.fullmatch(r"[0-9a-f]{40}", head):
            return head
        ref = head.removeprefix("ref:").strip()
        common = git
        if (git / "commondir").is_file():
            common = (git / (git / "commondir").read_text(encoding="utf-8").strip()).resolve()
        for base in (git, common):
            if (base / ref).is_file():
                return (base / ref).read_text(encoding="utf-8")[:64].strip() or None
        packed = (common / "packed-refs").read_text(encoding="utf-8")
        for line in packed.splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    except (OSError, ValueError):
        return None
    return None


# -- the reference and its cache ----------------------------------------------------------


@dataclass
class Reference:
    """What the checks hold options against: a checkout read from source, or the bundled
    catalog (``checkout`` None; ``problem`` says why a found checkout was not used)."""

    checkout: Checkout | None = None
    commit: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    cached: bool = False

    @property
    def version(self) -> str:
        """The musubi-tuner version the checks hold to (the install's when read, else the
        bundled catalog's)."""
        v = self.data.get("version") if self.from_install else None
        return v if isinstance(v, str) and parse_version(v) else BUNDLED_VERSION.lstrip("v")

    @property
    def from_install(self) -> bool:
        return self.checkout is not None and self.problem is None

    def options(self, script: str) -> dict[str, ArgSpec] | None:
        if not self.from_install or script not in self.data.get("scripts", {}):
            return None
        return _specs_cached(self.key(), script, self.data)

    def key(self) -> str:
        return str(self.data.get("key", ""))

    def describe(self) -> str:
        """One line for the user: where the options come from."""
        if self.from_install:
            assert self.checkout is not None
            at = f" at {self.commit[:7]}" if self.commit else ""
            return (
                f"musubi-tuner {self.version} read from {self.checkout.root}{at}"
                f" (found by its {self.checkout.found_by})"
            )
        why = f" ({self.problem})" if self.problem else " (no musubi-tuner checkout found)"
        return f"the bundled musubi-tuner {BUNDLED_VERSION} catalog{why}"

    def differences(self) -> dict[str, dict[str, list[str]]]:
        """Per Wan script: options only the install has (``added``) and options of the
        bundled catalog it lacks (``removed``); empty when checking against the bundle."""
        from wantui.core.args.catalog import script_options

        out: dict[str, dict[str, list[str]]] = {}
        for script in STEP_SCRIPTS.values():
            mine = self.options(script)
            if mine is None:
                continue
            bundled = script_options(script)
            added = sorted({s.name for s in mine.values()} - {s.name for s in bundled.values()})
            removed = sorted({s.name for s in bundled.values()} - {s.name for s in mine.values()})
            if added or removed:
                out[script] = {"added": added, "removed": removed}
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "differences": self.differences(),
            "source": "install" if self.from_install else "bundled",
            "checkout": str(self.checkout.root) if self.checkout else None,
            "commit": self.commit,
            "version": self.version,
            "bundled_version": BUNDLED_VERSION,
            "problem": self.problem,
            "description": self.describe(),
        }


_SPECS: dict[tuple[str, str], dict[str, ArgSpec]] = {}


def _specs_cached(key: str, script: str, data: Mapping[str, Any]) -> dict[str, ArgSpec]:
    if (key, script) not in _SPECS:
        _SPECS[(key, script)] = specs_of(data["scripts"][script])
    return _SPECS[(key, script)]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wantui" / "musubi"


def _files(package: Path) -> list[Path]:
    rels = sorted({p for parts in SOURCES.values() for p, _ in parts} | {DATASET_SOURCE})
    return [package / r for r in rels]


def _read(path: Path) -> str:
    with open(path, "rb") as fh:
        raw = fh.read(MAX_SOURCE_BYTES + 1)
    if len(raw) > MAX_SOURCE_BYTES:
        raise ValueError(f"{path.name} is larger than a parser file can be")
    return raw.decode("utf-8", errors="replace")


def read_reference(checkout: Checkout | None) -> Reference:
    """Read (or load from the cache) the options and dataset keys of ``checkout``."""
    if checkout is None:
        return Reference()
    commit = commit_of(checkout.root)
    try:
        stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in _files(checkout.package)
                 if f.exists()]  # fmt: skip
    except OSError as exc:
        return Reference(checkout, commit, problem=f"cannot read {checkout.package}: {exc}")
    raw_key = json.dumps([READER_VERSION, str(checkout.package), commit, stats])
    key = hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    data = _load_cached(key)
    cached = data is not None
    if data is None:
        try:
            data = read_sources(lambda rel: _read(checkout.package / rel))
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            return Reference(checkout, commit, problem=f"its parser source cannot be read: {exc}")
        data["key"] = key
        data["version"] = _version_of(checkout)
        _store(key, data)
    problem = _implausible(data)
    return Reference(checkout, commit, data, problem=problem, cached=cached)


def _version_of(checkout: Checkout) -> str | None:
    """``version`` of the checkout's pyproject.toml, or of an installed package's
    ``musubi_tuner-X.dist-info`` (read as text, never run)."""
    try:
        text = (checkout.root / "pyproject.toml").read_text(encoding="utf-8")[:200_000]
        m = re.search(r'^\[project\][^\[]*?^version\s*=\s*"([^"]+)"', text, re.M | re.S)
        if m:
            return m.group(1)
    except OSError:
        pass
    for meta in sorted(checkout.package.parent.glob("musubi_tuner-*.dist-info")):
        m = re.match(r"musubi_tuner-([0-9][^-]*)\.dist-info$", meta.name)
        if m:
            return m.group(1)
    return None


def _implausible(data: Mapping[str, Any]) -> str | None:
    """Why the options read are not a musubi-tuner parser (an empty stub file, a fork that
    builds its parser another way): then the bundled catalog is the better reference."""
    for script in STEP_SCRIPTS.values():
        names = {n for o in data.get("scripts", {}).get(script, []) for n in o.get("names", [])}
        if "--dataset_config" not in names:
            return f"no --dataset_config option found in its {script} parser"
    return None


@lru_cache(maxsize=16)
def _load_cached(key: str) -> dict[str, Any] | None:
    try:
        data = json.loads((cache_dir() / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def _store(key: str, data: dict[str, Any]) -> None:
    """Best effort: a read-only home only costs the reading time next run."""
    path = cache_dir() / f"{key}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
    _load_cached.cache_clear()


def project_reference(project: Project) -> Reference:
    """The reference for a project's checks: its checkout read from source, or bundled."""
    return read_reference(find_checkout(project))


# -- the reference in effect ----------------------------------------------------------------

_ACTIVE: ContextVar[Reference | None] = ContextVar("wantui_musubi_reference", default=None)


@contextmanager
def use_reference(ref: Reference | None) -> Iterator[Reference | None]:
    """Check against ``ref`` inside the block (the option tables of the command model)."""
    token = _ACTIVE.set(ref)
    try:
        yield ref
    finally:
        _ACTIVE.reset(token)


def active_reference() -> Reference | None:
    return _ACTIVE.get()


def active_options(script: str) -> dict[str, ArgSpec] | None:
    """The option table of ``script`` in the reference in effect, or None (bundled)."""
    ref = _ACTIVE.get()
    return ref.options(script) if ref is not None else None


def install_dataset_keys(section: str) -> frozenset[str]:
    """Dataset keys the reference in effect accepts in ``general`` or ``datasets`` (none
    when checking against the bundled schema)."""
    ref = _ACTIVE.get()
    if ref is None or not ref.from_install:
        return frozenset()
    tables = ref.data.get("dataset") or {}
    names = ["DATASET_ASCENDABLE_SCHEMA"]
    if section != "general":
        names += ["IMAGE_DATASET_DISTINCT_SCHEMA", "VIDEO_DATASET_DISTINCT_SCHEMA"]
    return frozenset(k for n in names for k in tables.get(n, []))


def reference_findings(ref: Reference, used: Mapping[str, Any]) -> list[Finding]:
    """Info on where the options came from: options the steps use that only the user's
    musubi-tuner has, and a found checkout that could not be read. ``used``: step ->
    the step's :class:`~wantui.core.args.options.ArgView`."""
    from wantui.core.args.catalog import script_options
    from wantui.core.findings import emit

    out: list[Finding] = []
    if ref.checkout is not None and ref.problem:
        out.append(
            emit(
                "musubi-checkout-unreadable",
                origin="check",
                steps=(),
                text={"root": ref.checkout.root, "problem": ref.problem},
            )
        )
    if not ref.from_install:
        return out
    for step, view in used.items():
        script = STEP_SCRIPTS[step]
        bundled = script_options(script)
        mine = ref.options(script) or {}
        new = sorted({o.name for o in view.occurrences if o.spec is not None and o.name not in
                      bundled and o.name in mine})  # fmt: skip
        for name in new:
            out.append(
                emit(
                    "option-from-install",
                    origin="check",
                    captures={"flag": name, "step": step},
                    text={"bundled": BUNDLED_VERSION, "install": ref.describe(), "script": script},
                    steps=(step,),
                )
            )
    return out


def musubi_version() -> str:
    """The version of the musubi-tuner the checks in effect hold to."""
    ref = _ACTIVE.get()
    return ref.version if ref is not None else BUNDLED


def musubi_holds(spec: str) -> bool:
    """Whether the musubi-tuner in effect is within ``spec`` (e.g. ``">=0.3.5"``)."""
    return holds(spec, musubi_version())


def musubi_name() -> str:
    """``"musubi-tuner 0.3.5"``: the version in effect, for messages."""
    return f"musubi-tuner {musubi_version()}"
