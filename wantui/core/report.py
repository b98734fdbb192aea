"""``wantui report``: a Markdown bundle a user can paste into a public issue.

At most 64 KB: wantui's findings (ids, evidence), the traceback anatomy, the steps'
command lines, the dataset TOML, versions (wantui, musubi-tuner and its commit, Python,
torch and CUDA, accelerate, bitsandbytes, GPUs and driver, from the cached probe), the
accelerate config, model fingerprints (kind, size class, dtype, header hash; never a
path) and the decisive log lines. Everything passes through :mod:`wantui.core.redact`
before it is returned: tokens, keys, secret environment values, user and home folder,
host, IPs and e-mail addresses never reach the text.

Reads only: the logs, the project's files, the cached probe and the accelerate config. It
runs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wantui import __version__
from wantui.core.finding import Finding
from wantui.core.logfiles import diagnose_logs
from wantui.core.logtext import iter_file_lines
from wantui.core.redact import Context, redact
from wantui.core.textsafe import printable
from wantui.core.traceback_anatomy import summary_lines

LIMIT = 64 * 1024
_TAIL = 40  # last lines of each log
_MAX_TOML = 12_000
_MAX_EVIDENCE = 8


@dataclass
class Inputs:
    """What the report is made of (gathered by :func:`gather`, or given by a test)."""

    logs: list[Path] = field(default_factory=list)
    project: Any = None  # wantui.core.project.Project
    probe: dict[str, Any] | None = None  # the probe's data
    accelerate_config: str | None = None
    findings: list[Finding] = field(default_factory=list)
    tails: dict[str, list[str]] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    dataset_toml: str | None = None
    musubi_commit: str | None = None
    anatomy: dict[str, Any] | None = None  # of the last exception in the logs


def gather(logs: list[Path], project: Any, rules: Any) -> Inputs:
    """Read everything the report needs (never runs a program)."""
    inp = Inputs(logs=list(logs), project=project)
    context: dict[str, str] = {}
    if project is not None:
        train = project.steps.get("train")
        if train is not None:
            context["script"] = train.script
    names = [str(log) for log in logs]
    session, _ = diagnose_logs(names, rules, context, labels={str(x): x.name for x in logs})
    for log in logs:
        inp.tails[log.name] = _tail(log)
    inp.findings = session.findings()
    anat = session.matcher.anatomy()
    inp.anatomy = anat.to_json() if anat is not None else None
    if project is not None:
        inp.dataset_toml = _read_text(project.dataset_config_path(), _MAX_TOML)
        inp.probe = _cached_probe(project.root)
        inp.musubi_commit = musubi_commit(
            project.resolve(project.musubi_dir) if project.musubi_dir else None
        )
        inp.models = _models(project)
    inp.accelerate_config = _accelerate_config(inp.probe)
    return inp


def build(inp: Inputs, ctx: Context, *, limit: int = LIMIT) -> str:
    """The report as Markdown, redacted, at most ``limit`` bytes (UTF-8)."""
    sections = [
        ("header", _header(inp)),
        ("findings", _findings(inp.findings)),
        ("anatomy", _anatomy(inp)),
        ("commands", _commands(inp.project)),
        ("versions", _versions(inp)),
        ("dataset", _fenced("Dataset config", inp.dataset_toml, "toml")),
        ("accelerate", _fenced("accelerate config", inp.accelerate_config, "yaml")),
        ("models", _models_md(inp.models)),
        ("logs", _logs(inp)),
    ]
    # outside text (log lines, file names) is shown, never obeyed: controls become escapes
    parts = [printable(redact(text, ctx), newlines=True) for _, text in sections if text]
    return _fit(parts, limit)


def write_report(logs: list[Path], project: Any, out: Path, rules: Any = None) -> int:
    """Build the report (this machine's secrets removed) and write it atomically to
    ``out``; returns its size in bytes. For the app's key and ``wantui report -o``."""
    from wantui.core.fsutil import atomic_write
    from wantui.core.redact import context_from_machine
    from wantui.core.rules import load_rules

    env: dict[str, str] = {}
    if project is not None:
        for step in project.steps.values():
            env.update(step.env)
    inp = gather(logs, project, rules if rules is not None else load_rules(include_user=False))
    data = build(inp, context_from_machine(env)).encode("utf-8")
    atomic_write(out, data, backup=False)
    return len(data)


def _fit(parts: list[str], limit: int) -> str:
    """Join the sections; cut the last (the log lines) first, then the others from the
    end, so the most telling parts always fit."""
    note = "\n\n*(cut to fit the 64 KB limit)*\n"
    out = "\n\n".join(parts).rstrip() + "\n"
    if len(out.encode("utf-8")) <= limit:
        return out
    budget = limit - len(note.encode("utf-8"))
    kept: list[str] = []
    used = 0
    for p in parts:
        size = len(p.encode("utf-8")) + 2
        if used + size <= budget:
            kept.append(p)
            used += size
            continue
        room = budget - used - 2
        if room > 200:
            cut = p.encode("utf-8")[:room].decode("utf-8", "ignore")
            cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
            if cut.count("```") % 2:
                cut += "\n```"
            kept.append(cut)
        break
    return "\n\n".join(kept).rstrip() + note


# -- sections --------------------------------------------------------------------------
def _header(inp: Inputs) -> str:
    logs = ", ".join(f"`{p.name}`" for p in inp.logs) or "none"
    return (
        "# wantui report\n\n"
        f"wantui {__version__}; logs: {logs}. Made by `wantui report` for a public issue: "
        "secrets, user and host names, IP and e-mail addresses are removed."
    )


def _findings(findings: list[Finding]) -> str:
    if not findings:
        return "## Findings\n\nNone."
    out = ["## Findings", ""]
    for f in findings:
        cause = f" (a consequence of `{f.consequence_of}`)" if f.consequence_of else ""
        out.append(f"- **{f.severity.value}** `{f.catalog}` (rule `{f.rule}`): {f.title}{cause}")
        for e in f.evidence[:_MAX_EVIDENCE]:
            out.append(f"  - line {e.line}: `{_code(e.text[:300])}`")
    return "\n".join(out)


def _anatomy(inp: Inputs) -> str:
    anat = inp.anatomy or next((f.anatomy for f in inp.findings if f.anatomy), None)
    if not anat:
        return ""
    lines = "\n".join(f"- {_code_spans(x)}" for x in summary_lines(anat))
    return f"## Traceback anatomy\n\n{lines}"


def _commands(project: Any) -> str:
    if project is None:
        return ""
    out = ["## Commands", ""]
    for name in ("latents", "te", "train"):
        step = project.steps.get(name)
        if step is None:
            continue
        try:
            argv = project.argv(name)
        except Exception:  # a step the project cannot build: show what is written
            argv = [step.script, *step.args]
        state = "" if step.enabled else " (disabled)"
        out += [f"{name}{state}:", "```sh", shlex.join(argv), "```"]
    return "\n".join(out)


def _versions(inp: Inputs) -> str:
    rows = [("wantui", __version__)]
    data = inp.probe or {}
    py = data.get("python") or {}
    torch = data.get("torch") or {}
    acc = data.get("accelerate") or {}
    bnb = data.get("bitsandbytes") or {}
    mus = data.get("musubi") or data.get("musubi_tuner") or {}
    plat = data.get("platform") or {}
    rows.append(
        ("musubi-tuner", f"{mus.get('version') or '?'} (commit {inp.musubi_commit or '?'})")
    )
    rows.append(("python", str(py.get("version") or "?")))
    if plat:
        rows.append(("platform", str(plat.get("system") or plat.get("platform") or plat)))
    rows.append(
        ("torch", f"{torch.get('version') or '?'} (CUDA build {torch.get('cuda_build') or 'none'})")
    )
    if torch.get("driver_cuda"):
        rows.append(("driver CUDA", str(torch["driver_cuda"])))
    for g in torch.get("gpus") or []:
        gb = (g.get("total_bytes") or 0) / 1e9
        rows.append(
            (f"GPU {g.get('index')}", f"{g.get('name')} ({gb:.0f} GB, sm {g.get('capability')})")
        )
    rows.append(("accelerate", str(acc.get("version") or "?")))
    rows.append(("bitsandbytes", str(bnb.get("version") or "?")))
    note = (
        ""
        if inp.probe
        else "\n\n(no cached probe: run `wantui doctor` in the project for the rest)"
    )
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return f"## Versions\n\n| what | version |\n|---|---|\n{table}{note}"


def _models_md(models: list[dict[str, Any]]) -> str:
    if not models:
        return ""
    out = [
        "## Model files",
        "",
        "| option | kind | size | dtype | header sha256 |",
        "|---|---|---|---|---|",
    ]
    for m in models:
        out.append(
            f"| {m['step']} {m['flag']} | {m['kind']} | {m['size']} | {m['dtype']} | {m['hash']} |"
        )
    return "\n".join(out)


def _logs(inp: Inputs) -> str:
    if not inp.tails:
        return ""
    out = ["## Log lines", ""]
    for name, tail in inp.tails.items():
        out += [
            f"Last {len(tail)} lines of `{name}`:",
            "```text",
            *(_code(t[:500]) for t in tail),
            "```",
        ]
    return "\n".join(out)


def _fenced(title: str, text: str | None, lang: str) -> str:
    if not text:
        return ""
    body = text.replace("```", "'''").rstrip()  # a fence inside cannot close ours
    return f"## {title}\n\n```{lang}\n{body}\n```"


def _code(text: str) -> str:
    return text.replace("`", "'")


def _code_spans(text: str) -> str:
    return text.replace("`", "'")


# -- gathering -------------------------------------------------------------------------
def _tail(path: Path) -> list[str]:
    lines: list[str] = []
    for line in iter_file_lines(path):
        lines.append(line.text)
        if len(lines) > 4 * _TAIL:
            del lines[:-_TAIL]
    return lines[-_TAIL:]


def _read_text(path: Path | None, limit: int) -> str | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError:
        return None
    text = raw[:limit].decode("utf-8", "replace")
    return text + ("\n# ... (cut)" if len(raw) > limit else "")


def _cached_probe(root: Path) -> dict[str, Any] | None:
    from wantui.core.probe.cache import CACHE_FILE

    try:
        with open(root / CACHE_FILE, "rb") as f:
            doc = json.loads(f.read(4_000_000))
    except (OSError, ValueError):
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    return data if isinstance(data, dict) else None


def _accelerate_config(probe: dict[str, Any] | None) -> str | None:
    acc = (probe or {}).get("accelerate") or {}
    path = acc.get("config_file") if isinstance(acc, dict) else None
    if not isinstance(path, str):
        hf = os.environ.get("HF_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache", "huggingface"
        )
        path = os.environ.get("ACCELERATE_CONFIG_FILE") or os.path.join(
            hf, "accelerate", "default_config.yaml"
        )
    return _read_text(Path(path), 8000)


def musubi_commit(checkout: Path | None) -> str | None:
    """The commit a musubi-tuner checkout is at, read from its .git (no git run)."""
    if checkout is None:
        return None
    git = checkout / ".git"
    try:
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            target = git.read_text(encoding="utf-8").strip().removeprefix("gitdir:").strip()
            git = (checkout / target).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if head.startswith("ref:"):
            ref = head[4:].strip()
            ref_file = git / ref
            if ref_file.is_file():
                return ref_file.read_text(encoding="utf-8").strip()[:12]
            packed = git / "packed-refs"
            for line in packed.read_text(encoding="utf-8").splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0][:12]
            return None
        return head[:12]
    except (OSError, UnicodeDecodeError):
        return None


def _size_class(n: int) -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= div:
            return f"~{n / div:.0f} {unit}" if n / div >= 10 else f"~{n / div:.1f} {unit}"
    return f"{n} B"


def header_hash(path: Path) -> str:
    """sha256 (16 hex) of a safetensors file's header, or of a file's first MiB."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) == 8 and path.suffix.lower() in (".safetensors", ".sft"):
                n = int.from_bytes(head, "little")
                if 0 < n <= 100_000_000:
                    return hashlib.sha256(head + f.read(n)).hexdigest()[:16]
            return hashlib.sha256(head + f.read((1 << 20) - 8)).hexdigest()[:16]
    except OSError:
        return "unreadable"


def _models(project: Any) -> list[dict[str, Any]]:
    from wantui.core.modelchecks.refs import project_models

    try:
        refs = project_models(project)
    except Exception:  # a project whose steps cannot be read: the other sections still help
        return []
    out = []
    for r in refs:
        info = r.info
        out.append(
            {
                "step": r.step,
                "flag": r.flag,
                "kind": info.kind if info.kind in ("unknown", "corrupt") else info.summary(),
                "size": _size_class(info.size) if info.size else "-",
                "dtype": info.dtype or "-",
                "hash": header_hash(r.path) if r.path.is_file() else "missing",
            }
        )
    return out


__all__ = ["LIMIT", "Inputs", "build", "gather", "header_hash", "musubi_commit", "write_report"]
