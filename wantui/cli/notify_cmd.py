"""``wantui notify``: the notification targets, and ``--test`` to send a test message.

Targets come from ``[notify] urls`` in wantui.toml, the user's config and
``WANTUI_NOTIFY`` (docs/away.md). They are named by scheme and position ("json #1"),
never printed: a URL carries its service's secret.

Exit codes: 0 listed, or every target took the test message; 1 a target did not; 2 no
target configured, or a bad setting.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from wantui.core.away.config import load_away
from wantui.core.away.notify import Message, expand_url, label, scrub, send_once
from wantui.core.errors import ExitCode, WantuiError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        metavar="DIR",
        default=".",
        help="the project folder (default: the current folder; none there: the user's config only)",
    )
    parser.add_argument("--test", action="store_true", help="send a test message to every target")


def run(args: argparse.Namespace) -> int:
    root = Path(args.project)
    cfg = load_away(root.resolve() if (root / "wantui.toml").is_file() else None)
    if not cfg.urls:
        raise WantuiError(
            "no notification target: set [notify] urls in wantui.toml or"
            " ~/.config/wantui/config.toml, or WANTUI_NOTIFY (docs/away.md)"
        )
    events = ", ".join(sorted(cfg.events - {"test"}))
    if not args.test:
        for i, raw in enumerate(cfg.urls):
            print(f"{label(raw, i)}  events: {events}")
        return ExitCode.OK
    msg = Message(
        "test",
        "wantui: test notification",
        f"This is a test from wantui on {socket.gethostname()}. Run events will come here.",
    )
    failed = 0
    for i, raw in enumerate(cfg.urls):
        url = expand_url(raw)
        why = send_once(url, msg)
        if why is None:
            print(f"{label(raw, i)}: sent")
        else:
            failed += 1
            print(f"{label(raw, i)}: NOT sent: {scrub(why, [raw, url])}", file=sys.stderr)
    return ExitCode.FINDINGS if failed else ExitCode.OK
