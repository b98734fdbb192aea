"""``wantui download NAME|OWNER/REPO/FILE [--dest DIR] [--list]``: fetch a known-good Wan
file from the Hugging Face hub into the models folder (resumable, verified)."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any, TextIO

from wantui.cli.render import write_json
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.project import PROJECT_FILE, load_project


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "spec",
        nargs="?",
        metavar="NAME|REPO/FILE",
        help="a catalog name (see --list) or OWNER/REPO/PATH",
    )
    p.add_argument(
        "--dest",
        metavar="DIR",
        help="folder to put it in (default: the project's models folder, else ./models)",
    )
    p.add_argument("--list", action="store_true", help="list the catalog of known-good Wan files")
    p.add_argument("--revision", default="main", help="branch, tag or commit (default: main)")
    p.add_argument("--force", action="store_true", help="replace a different file of the same name")
    p.add_argument("--json", action="store_true", help="print one JSON object (docs/json.md)")


def _default_dest() -> Path:
    if (Path.cwd() / PROJECT_FILE).is_file():
        project = load_project(Path.cwd())
        return project.resolve(project.models_dir)
    return Path.cwd() / "models"


def run(args: argparse.Namespace) -> int:
    from wantui.core.hub import CATALOG, download, human_size

    out = sys.stdout
    if args.list:
        if args.json:
            write_json({"catalog": [f.to_json() for f in CATALOG.values()]}, out)
            return ExitCode.OK
        width = max(len(n) for n in CATALOG)
        for f in CATALOG.values():
            size = f" ({human_size(f.size)})" if f.size else ""
            out.write(
                f"{f.name:<{width}}  {f.description}{size}\n{'':<{width}}  {f.repo}/{f.filename}\n"
            )
        return ExitCode.OK
    if not args.spec:
        raise WantuiError("name a file to download (wantui download --list shows the catalog)")
    dest = Path(args.dest) if args.dest else _default_dest()
    if dest.exists() and not dest.is_dir():
        raise WantuiError("is not a folder", path=dest)
    err = sys.stderr
    last_len = 0
    watch, notifier = _stall_watch(str(args.spec), err)

    def progress(p: object) -> None:
        nonlocal last_len
        if watch is not None:
            watch.progress(p.done)  # type: ignore[attr-defined]
        line = "  " + p.describe()  # type: ignore[attr-defined]
        pad = " " * max(0, last_len - len(line))
        last_len = len(line)
        if err.isatty():
            err.write("\r" + line + pad)
            if p.phase == "done":  # type: ignore[attr-defined]
                err.write("\n")
            err.flush()

    try:
        path = download(
            args.spec, dest, progress=progress, revision=args.revision, overwrite=args.force
        )
    except KeyboardInterrupt:
        _stop_watch(watch, notifier)
        err.write(
            "\nwantui: interrupted; the partial download is kept, run the same command to resume\n"
        )
        return ExitCode.INTERRUPTED
    except BaseException:
        _stop_watch(watch, notifier)
        raise
    _stop_watch(watch, notifier)
    if args.json:
        write_json({"path": str(path), "size": path.stat().st_size}, out)
    else:
        out.write(f"{path}\n")
    return ExitCode.OK


def _stall_watch(spec: str, err: TextIO) -> tuple[Any, Any]:
    """The "download" notification (docs/away.md): no bytes for [notify] stall_minutes.
    A bad notification setting is a warning here: it must not stop the download."""
    from wantui.core.away.config import load_away
    from wantui.core.away.notify import Message, Notifier
    from wantui.core.away.stall import StallWatch

    here = Path.cwd()
    try:
        cfg = load_away(here if (here / "wantui.toml").is_file() else None)
    except WantuiError as exc:
        err.write(f"wantui: warning: notifications are off: {exc}\n")
        return None, None
    if not cfg.wants("download") or not cfg.stall_minutes:
        return None, None
    notifier = Notifier(cfg.urls, on_report=lambda t: err.write(f"wantui: {t}\n"))

    def stalled(idle: float) -> None:
        err.write(f"\nwantui: the download has received nothing for {idle / 60:.1f} min\n")
        notifier.send(
            Message(
                "download",
                f"wantui: download stalled ({spec})",
                f"{spec}: no bytes for {idle / 60:.1f} min on {socket.gethostname()}. It resumes"
                " where it stopped if you run the same `wantui download` again.",
                "warning",
            )
        )

    return StallWatch(cfg.stall_minutes * 60, stalled), notifier


def _stop_watch(watch: Any, notifier: Any) -> None:
    if watch is not None:
        watch.stop()
        if watch.fired:
            notifier.drain(15.0)  # the stall message is on its way: let it out
