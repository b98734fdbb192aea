"""Which project folders' own rules (``./.wantui/rules``) the user trusts.

A project folder is not trusted (a cloned template, an unpacked dataset): its rules can
replace a built-in rule, fire on healthy lines and offer fixes. So they load only after
``wantui rules trust [DIR]``, which records the folder and a sha256 of its rule files in
the user's own config (``$XDG_CONFIG_HOME/wantui/trusted.toml``). A change to the rule
files (a ``git pull``) needs a new trust, as ``direnv allow`` does.

The same record says which interpreter of the folder the user trusts: ``[project]
python`` of a ``wantui.toml`` the user did not write is a program of the folder's
choosing, and ``wantui doctor`` (and ``plan``) start it to probe the machine only when it
is the one recorded here (or given with ``--python``): :func:`python_refusal`.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tomlkit
import tomlkit.exceptions

from wantui.core.errors import WantuiError
from wantui.core.fsutil import read_regular_file

RULES_SUBDIR = Path(".wantui") / "rules"
MAX_TRUST_FILE = 4 * 1024 * 1024
MAX_RULE_FILE = 256 * 1024  # loader.MAX_RULE_BYTES; a bigger file is refused there


def trust_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "wantui" / "trusted.toml"


def rule_files(folder: Path) -> list[Path]:
    """The files :func:`~wantui.core.rules.loader.load_rules_dir` reads, in its order."""
    try:
        return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    except OSError:
        return []


def rules_digest(folder: Path) -> str:
    """sha256 over the names and bytes of the rule files of ``folder``."""
    h = hashlib.sha256()
    for f in rule_files(folder):
        h.update(f.name.encode("utf-8", "surrogateescape") + b"\0")
        try:
            data = read_regular_file(f, limit=MAX_RULE_FILE, what="rule file")
            h.update(hashlib.sha256(data).digest())
        except WantuiError as exc:  # unreadable now: digest the reason, not the bytes
            h.update(b"!" + exc.message.encode("utf-8", "replace"))
    return h.hexdigest()


@dataclass
class TrustState:
    folder: Path  # the project folder (real path)
    rules: Path  # its .wantui/rules
    files: int  # rule files in it
    trusted: bool
    reason: str  # why not, in words (empty when trusted)


def _load() -> list[dict]:
    path = trust_file()
    if not path.exists():
        return []
    raw = read_regular_file(path, limit=MAX_TRUST_FILE, what="trust list")
    try:
        doc = tomlkit.parse(raw.decode("utf-8")).unwrap()
    except (tomlkit.exceptions.TOMLKitError, UnicodeDecodeError) as exc:
        raise WantuiError(f"not valid TOML: {exc}", path=path) from None
    entries = doc.get("folder", [])
    if not isinstance(entries, list):
        raise WantuiError("`folder` must be an array of tables", path=path)
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("path"), str)]


def state(project_dir: str | os.PathLike[str]) -> TrustState:
    """Whether the rules of ``project_dir/.wantui/rules`` may load now."""
    folder = Path(os.path.realpath(project_dir))
    rules = folder / RULES_SUBDIR
    files = len(rule_files(rules))
    if files == 0:  # nothing to load: the trust list need not be read
        return TrustState(folder, rules, 0, False, "no rule files")
    try:
        entries = _load()
    except WantuiError as exc:
        return TrustState(folder, rules, files, False, f"the trust list is unreadable ({exc})")
    entry = next((e for e in entries if e["path"] == str(folder)), None)
    if entry is None:
        return TrustState(folder, rules, files, False, "this folder is not trusted")
    if entry.get("rules_sha256") != rules_digest(rules):
        when = entry.get("trusted_at", "")
        return TrustState(
            folder, rules, files, False, f"they changed since you trusted them {when}".rstrip()
        )
    return TrustState(folder, rules, files, True, "")


def _save(entries: list[dict]) -> Path:
    from wantui.core.fsutil import atomic_write

    path = trust_file()
    doc = tomlkit.document()
    doc.add(
        tomlkit.comment("Project folders whose ./.wantui/rules wantui loads (wantui rules trust)")
    )
    aot = tomlkit.aot()
    for e in entries:
        aot.append(tomlkit.item(e))
    doc["folder"] = aot
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WantuiError(
            f"cannot create the folder: {exc.strerror or exc}", path=path.parent
        ) from None
    atomic_write(path, tomlkit.dumps(doc).encode("utf-8"), backup=False)
    return path


def trust(project_dir: str | os.PathLike[str], python: str | None = None) -> TrustState:
    """Record ``project_dir``'s rules, as they are now, as trusted; and ``python`` (its
    ``[project] python``, resolved) as an interpreter wantui may start to probe."""
    folder = Path(os.path.realpath(project_dir))
    if not folder.is_dir():
        raise WantuiError("not a folder", path=project_dir)
    entries = [e for e in _load() if e["path"] != str(folder)]
    entry = {
        "path": str(folder),
        "rules_sha256": rules_digest(folder / RULES_SUBDIR),
        "trusted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if python:
        entry["python"] = os.path.realpath(python)
    entries.append(entry)
    _save(entries)
    return state(folder)


def python_refusal(project_dir: str | os.PathLike[str], python: str) -> str:
    """Why wantui must not start ``python`` (a project's ``[project] python``) to probe
    it: empty when the user trusted this folder with this interpreter, or when it is
    wantui's own (trusted already: it runs wantui)."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return ""
    folder = str(Path(os.path.realpath(project_dir)))
    try:
        entries = _load()
    except WantuiError as exc:
        return f"the trust list is unreadable ({exc})"
    entry = next((e for e in entries if e["path"] == folder), None)
    if entry is None:
        return "this folder is not trusted"
    if entry.get("python") != os.path.realpath(python):
        return "this interpreter is not the one you trusted for this folder"
    return ""


def untrust(project_dir: str | os.PathLike[str]) -> bool:
    """Forget ``project_dir``; False when it was not trusted."""
    folder = str(Path(os.path.realpath(project_dir)))
    entries = _load()
    kept = [e for e in entries if e["path"] != folder]
    if len(kept) == len(entries):
        return False
    _save(kept)
    return True
