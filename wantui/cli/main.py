"""Entry point: ``wantui [COMMAND] ...``.

Subcommand modules are imported lazily so that ``wantui diagnose`` never pays for
Textual, and no command ever imports torch. With no command, ``wantui`` opens the
terminal app in the current folder.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from wantui import __version__
from wantui.core.errors import ExitCode, WantuiError
from wantui.core.textsafe import printable

# command name -> (module, one-line help). The module defines register() and run().
COMMANDS: dict[str, tuple[str, str]] = {
    "diagnose": ("wantui.cli.diagnose", "explain a musubi-tuner log (files or -)"),
    "rules": ("wantui.cli.rules", "list, check or explain the diagnosis rules"),
    "check": ("wantui.cli.check", "check the project, a dataset TOML or one command line"),
    "import": ("wantui.cli.import_cmd", "turn a pasted musubi-tuner command into a project step"),
    "export": ("wantui.cli.export", "write the pipeline as a .sh or .bat script"),
    "fix": ("wantui.cli.fix", "list, apply or undo fixes"),
    "inspect": ("wantui.cli.inspect_cmd", "identify model files from their headers"),
    "report": ("wantui.cli.report", "a redacted Markdown bundle to paste into a public issue"),
    "doctor": ("wantui.cli.doctor", "preflight: files, inputs and the pipeline's Python"),
    "plan": ("wantui.cli.plan_cmd", "will it fit, how long will it take, what will it cost"),
    "download": ("wantui.cli.download", "download a known-good Wan file from the Hugging Face hub"),
    "run": ("wantui.cli.run_cmd", "run the pipeline without the TUI (for scripts and nohup)"),
    "attach": ("wantui.cli.attach", "follow a running or finished run"),
    "notify": ("wantui.cli.notify_cmd", "list the notification targets, or send a test message"),
    "replay": ("wantui.cli.replay", "play a saved log in the terminal app"),
    "demo": ("wantui.cli.demo", "replay a bundled failing run, no GPU needed"),
    "tui": ("wantui.cli.tui_cmd", "open the terminal app (`wantui` alone does the same)"),
    "serve": ("wantui.cli.serve", "serve the terminal app in a browser (textual-serve)"),
}


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors, which matches ExitCode.USAGE."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(printable(f"wantui: error: {message}"), file=sys.stderr)
        raise SystemExit(ExitCode.USAGE)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wantui",
        description="Preflight, run, diagnose and fix Wan LoRA training with musubi-tuner.",
    )
    parser.add_argument("--version", action="version", version=f"wantui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in COMMANDS.items():
        if name != only:
            # cheap placeholder so `wantui --help` lists every command without importing it
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.register(p)
        p.set_defaults(_run=module.run)
    return parser


def _tolerant_streams() -> None:
    """A Japanese path on a cp1252 or ASCII console, or a file name that is not UTF-8,
    must print as escapes, not end in UnicodeEncodeError (exit 3) or invalid UTF-8 JSON."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass  # not a text stream we own (pytest capture, a replaced stream)


def main(argv: list[str] | None = None) -> int:
    _tolerant_streams()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is None and not any(a in ("-h", "--help", "--version") for a in argv):
        argv = ["tui", *argv]
        command = "tui"
    if command is not None and command not in COMMANDS:
        command = None
    try:
        parser = build_parser(only=command)
        args = parser.parse_args(argv)
        if getattr(args, "_run", None) is None:
            parser.print_help()
            return ExitCode.USAGE
        return int(args._run(args))
    except WantuiError as exc:
        print(printable(f"wantui: {exc}"), file=sys.stderr)  # paths and values from outside
        return int(exc.code)
    except KeyboardInterrupt:
        print("wantui: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # `wantui diagnose log | head`: the reader went away; that is not an error.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return ExitCode.OK
    except SystemExit:
        raise
    except PermissionError as exc:  # a folder or file this user may not read: bad input, not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        print(printable(f"wantui: {where}permission denied"), file=sys.stderr)
        return ExitCode.USAGE
    except Exception as exc:  # a bug: one line, never a traceback (WANTUI_DEBUG=1 shows it)
        if os.environ.get("WANTUI_DEBUG"):
            raise
        print(
            printable(
                f"wantui: internal error: {type(exc).__name__}: {exc} (set WANTUI_DEBUG=1 for details)"
            ),
            file=sys.stderr,
        )
        return ExitCode.INTERNAL
