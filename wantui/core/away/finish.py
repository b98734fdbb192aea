"""``on_finish`` / ``on_failure``: the user's command when the run ends (stop the pod).

Rules, each tested: ``on_finish`` runs only when the run succeeded and the final LoRA
file exists and its header reads as a LoRA; ``on_failure`` only when the user wrote one
and the run failed (a stop by the user runs neither); both only after a countdown that
``wantui run --cancel-finish`` or the TUI cancels (a file in the run folder); never twice
(the runner records it in run.json's ``finish`` before it runs the command).

A list is an argv, run without a shell; a string is what the user typed for a shell
(``sh -c``), documented in docs/away.md.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from wantui.core.args.parse import expand_secret_refs

CANCEL_FILE = "cancel-finish"
OUTPUT_FILE = "finish.log"
COMMAND_TIMEOUT_S = 600.0


def verify_lora(path: str | None) -> str | None:
    """None when ``path`` is a LoRA file by its header, else why not (one line)."""
    if not path:
        return "the training step names no --output_dir/--output_name, so no LoRA file is known"
    from wantui.core.models import inspect_file

    info = inspect_file(path)
    if info.kind == "lora":
        return None
    reason = info.details.get("reason") or f"it reads as {info.kind}, not a LoRA"
    return f"{Path(path).name}: {reason}"


def request_cancel(run_dir: Path) -> bool:
    """Ask the runner not to run the pending action (False: the run folder is gone)."""
    try:
        (run_dir / CANCEL_FILE).write_text("cancelled\n")
        return True
    except OSError:
        return False


def cancelled(run_dir: Path) -> bool:
    return (run_dir / CANCEL_FILE).exists()


def decide(
    status: str, on_finish: object, on_failure: object, lora: str | None
) -> tuple[str | None, object, str | None]:
    """(which action, its command, why none) for a run that ended with ``status``."""
    if status == "succeeded":
        if not on_finish:
            return None, None, None
        bad = verify_lora(lora)
        if bad:
            return None, None, f"on_finish not run: {bad}"
        return "on_finish", on_finish, None
    if status == "failed" and on_failure:
        return "on_failure", on_failure, None
    if on_finish and status != "succeeded":
        return None, None, f"on_finish not run: the run {status}"
    return None, None, None


def countdown(run_dir: Path, seconds: float, tick: Callable[[float], None] | None = None) -> bool:
    """Wait ``seconds``; False as soon as the cancel file appears."""
    deadline = time.monotonic() + seconds
    while True:
        if cancelled(run_dir):
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        if tick is not None:
            tick(left)
        time.sleep(min(0.2, left))


def run_command(command: list[str] | str, cwd: str, run_dir: Path) -> tuple[int | None, str]:
    """Run the action; its output goes to ``finish.log`` in the run folder. Secret
    references ($RUNPOD_API_KEY) are expanded here, as for a step."""
    env = dict(os.environ)
    env.pop("WANTUI_NOTIFY", None)  # the action needs no notification secrets
    if isinstance(command, str):
        argv = ["/bin/sh", "-c", command] if sys.platform != "win32" else ["cmd", "/c", command]
    else:
        argv = [expand_secret_refs(a, env) for a in command]
    try:
        with open(run_dir / OUTPUT_FILE, "ab") as out:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
            )
        return proc.returncode, f"exit status {proc.returncode}"
    except subprocess.TimeoutExpired:
        return None, f"still running after {COMMAND_TIMEOUT_S:g} s: left to itself"
    except OSError as exc:
        with contextlib.suppress(OSError):
            (run_dir / OUTPUT_FILE).open("a").write(f"cannot run: {exc.strerror or exc}\n")
        return None, f"cannot run {argv[0]}: {exc.strerror or exc}"
