"""``wantui serve``: the terminal app in a browser, through textual-serve.

It listens on 127.0.0.1 unless --host says otherwise: the app can start training runs and
edit files. textual-serve has no authentication, so :mod:`wantui.cli.serve_guard` adds
it: a token in the URL printed at start, Host and Origin checks, a cap on sessions."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from wantui.cli.argtypes import port, positive_int
from wantui.cli.serve_guard import Guard, guarded
from wantui.core.errors import ExitCode, WantuiError

LOCAL = ("127.0.0.1", "localhost", "::1")


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "folder", nargs="?", default=".", help="the project folder (default: the current folder)"
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)"
    )
    p.add_argument("--port", type=port, default=8000, help="the port to listen on (default: 8000)")
    p.add_argument(
        "--max-sessions",
        type=positive_int,
        default=4,
        help="browser sessions at once; each runs the app (default: 4)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the browser may use besides IP addresses and localhost"
        " (behind a reverse proxy or a DNS name)",
    )


def exposure_warning(host: str) -> str | None:
    if host in LOCAL:
        return None
    return (
        f"WARNING: wantui serve is listening on {host}: anyone who can reach this port and"
        " sees the URL with its token can run commands on this machine (start training, edit"
        " your files), and plain HTTP shows the token to the network. Prefer the default"
        " 127.0.0.1 with an SSH tunnel: ssh -L 8000:127.0.0.1:8000 host"
    )


def command_for(folder: Path) -> str:
    return shlex.join([sys.executable, "-m", "wantui", "tui", str(folder.resolve())])


def run(args: argparse.Namespace) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        raise WantuiError("textual-serve is not installed: pip install 'wantui[serve]'") from None
    folder = Path(args.folder)
    if not folder.is_dir():
        raise WantuiError("not a folder", path=folder)
    warning = exposure_warning(args.host)
    if warning:
        bar = "!" * 78
        print(f"{bar}\n{warning}\n{bar}", file=sys.stderr)
    guard = Guard.for_host(args.host, args.allow_host, args.max_sessions)
    server = guarded(Server, guard)(
        command_for(folder), host=args.host, port=args.port, title="wantui"
    )
    server.serve()
    # textual-serve ends quietly on SIGINT and SIGTERM alike; Ctrl-C is an interruption
    return ExitCode.INTERRUPTED if server.interrupted else ExitCode.OK
