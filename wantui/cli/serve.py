"""``wantui serve``: the terminal app in a browser, through textual-serve.

It listens on 127.0.0.1 unless --host says otherwise: the app can start training runs and
edit files, and textual-serve has no authentication."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from wantui.cli.argtypes import port
from wantui.core.errors import ExitCode, WantuiError

LOCAL = ("127.0.0.1", "localhost", "::1")


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", nargs="?", default=".", help="the project folder (default: here)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=8000, help="port (default 8000)")


def exposure_warning(host: str) -> str | None:
    if host in LOCAL:
        return None
    return (
        f"WARNING: wantui serve is listening on {host}: anyone who can reach this port can run "
        "commands on this machine (start training, edit your files). textual-serve has no "
        "login. Prefer the default 127.0.0.1 with an SSH tunnel: ssh -L 8000:127.0.0.1:8000 host"
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
    server = _server_class(Server)(
        command_for(folder), host=args.host, port=args.port, title="wantui"
    )
    server.serve()
    # textual-serve ends quietly on SIGINT and SIGTERM alike; Ctrl-C is an interruption
    return ExitCode.INTERRUPTED if server.interrupted else ExitCode.OK


def _server_class(base: type) -> type:
    """textual-serve's Server, remembering whether Ctrl-C (SIGINT) ended it."""

    class _Server(base):  # type: ignore[misc, valid-type]
        interrupted = False

        async def _make_app(self) -> Any:
            # serve() gave SIGINT and SIGTERM the same handler; tell them apart
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._ctrl_c)
            return await super()._make_app()

        def _ctrl_c(self) -> None:
            self.interrupted = True
            self.request_exit()

    return _Server
