"""``wantui inspect FILE... [--json]``: identify model files from their headers.

A folder inspects the model files inside it. Exit codes: 0 all files read, 1 at least one
file is corrupt, 2 a path is missing or unreadable (a FIFO, a symlink loop, permission
denied) or a folder holds no model files.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from wantui.cli.render import write_json
from wantui.core.errors import ExitCode
from wantui.core.models import ModelInfo, inspect_file, looks_like_windows_path, scan_models
from wantui.core.textsafe import printable


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="FILE", help="model files or folders")
    parser.add_argument("--json", action="store_true", help="print one JSON object (docs/json.md)")


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"


def format_info(info: ModelInfo) -> str:
    """A few lines for humans."""
    head = info.path
    if info.size:
        head += f"  ({_size(info.size)}"
        head += f", {info.tensors} tensors)" if info.tensors else ")"
    lines = [
        head,
        f"  {info.kind}: {info.summary()}"
        if info.kind not in ("unknown", "corrupt")
        else f"  {info.kind}: {info.details.get('reason', '')}",
    ]
    d = info.details
    if info.kind == "wan-dit":
        lines.append(
            f"  key prefix: {d.get('prefix') or '(none)'}; dim {d.get('dim')}, in_dim {d.get('in_dim')}, {d.get('layers')} blocks"
        )
        if d.get("tasks"):
            lines.append(f"  --task: {', '.join(d['tasks'])}")
    for note in info.notes:
        lines.append(f"  note: {note}")
    # the file name and header strings are not ours: shown, never obeyed by the terminal
    return "\n".join(printable(line) for line in lines)


MAX_FILES = 500  # per folder: bounded time and output


def _windows_hint(raw: str) -> str:
    """A Windows path typed on Linux (a guide followed on the desktop, then run over SSH)."""
    if not looks_like_windows_path(raw):
        return ""
    return (
        " (a Windows path: on this machine, use the Linux path of the file, e.g."
        " /workspace/models/...; over SSH the models live on the remote box)"
    )


def run(args: argparse.Namespace) -> int:
    # a path in Japanese on a terminal set to ASCII (PYTHONIOENCODING=ascii, an old SSH
    # locale) must print escaped, not end in UnicodeEncodeError
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    infos: list[ModelInfo] = []
    code = ExitCode.OK
    for raw in args.paths:
        p = Path(raw)
        if p.is_dir():
            stats: dict[str, object] = {}
            found = scan_models(p, limit=MAX_FILES + 1, stats=stats)
            if stats.get("cut"):
                print(
                    f"wantui: {printable(raw)}: stopped after {stats['visited']} folder entries; inspect"
                    " the models folder itself",
                    file=sys.stderr,
                )
            if len(found) > MAX_FILES:
                # say so: a silent cut would read as "the other files are not there"
                found = found[:MAX_FILES]
                print(
                    f"wantui: {printable(raw)}: more than {MAX_FILES} model files; showing the first"
                    f" {MAX_FILES} (inspect a subfolder for the rest)",
                    file=sys.stderr,
                )
            if not found:
                print(
                    f"wantui: {printable(raw)}: no model files here ({', '.join(('.safetensors', '.pth', '.pt', '.bin', '.ckpt', '.gguf'))})",
                    file=sys.stderr,
                )
                code = max(code, ExitCode.USAGE)
            infos.extend(found)
        elif not os.path.lexists(p):
            print(printable(f"wantui: {raw}: no such file{_windows_hint(raw)}"), file=sys.stderr)
            code = max(code, ExitCode.USAGE)
        else:
            infos.append(inspect_file(p))
    if any(i.details.get("unreadable") for i in infos):
        # a FIFO, a symlink loop, a dangling link, a permission-denied file: not read
        code = max(code, ExitCode.USAGE)
    if any(i.kind == "corrupt" for i in infos) and code == ExitCode.OK:
        code = ExitCode.FINDINGS
    if args.json:
        write_json({"files": [i.to_json() for i in infos]})
    else:
        print("\n\n".join(format_info(i) for i in infos))
    return int(code)
