"""``wantui download NAME|OWNER/REPO/FILE [--dest DIR] [--list]``: fetch a known-good Wan
file from the Hugging Face hub into the models folder (resumable, verified)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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

    def progress(p: object) -> None:
        nonlocal last_len
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
        err.write(
            "\nwantui: interrupted; the partial download is kept, run the same command to resume\n"
        )
        return ExitCode.INTERRUPTED
    if args.json:
        write_json({"path": str(path), "size": path.stat().st_size}, out)
    else:
        out.write(f"{path}\n")
    return ExitCode.OK
