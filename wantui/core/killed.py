"""Who killed a step: the kernel's OOM killer, when the kernel or the cgroup says so.

A step that dies by SIGKILL leaves no traceback; the log alone cannot say who sent the
signal. Two witnesses can, readable without root where the system allows it:

- the kernel log (``/dev/kmsg``; unreadable when ``kernel.dmesg_restrict`` is 1 or in
  most containers): ``Out of memory: Killed process 4821 (python)``;
- the cgroup's memory events (``memory.events`` ``oom_kill N`` in cgroup v2,
  ``memory.oom_control`` in v1): the counter grows when the OOM killer acts inside the
  container or session, which is how a container's memory limit shows.

:class:`KillWatch` reads the counter when a step starts and both witnesses when it ends
badly, and returns their words as evidence lines for the rules (``host-oom``).
"""

from __future__ import annotations

import errno
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KMSG = "/dev/kmsg"
MAX_KMSG_BYTES = 8 * 1024 * 1024  # the ring buffer is 128 KiB - a few MiB
_OOM = re.compile(
    r"Out of memory: Kill(?:ed)? process|Memory cgroup out of memory|oom-kill:constraint="
)


def _read_small(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(64 * 1024)
    except OSError:
        return None


def cgroup_oom_kills(
    proc_cgroup: str = "/proc/self/cgroup", root: str = "/sys/fs/cgroup"
) -> tuple[int, str] | None:
    """``(oom_kill count, file)`` of this process's memory cgroup, or None when unknown.
    The count includes the cgroup's descendants (a step runs in its parent's cgroup)."""
    text = _read_small(Path(proc_cgroup))
    if text is None:
        return None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, controllers, path = parts
        rel = path.lstrip("/")
        if hier == "0" and controllers == "":  # cgroup v2
            target = Path(root) / rel / "memory.events"
        elif "memory" in controllers.split(","):  # cgroup v1
            target = Path(root) / "memory" / rel / "memory.oom_control"
        else:
            continue
        content = _read_small(target)
        if content is None:
            continue
        m = re.search(r"^oom_kill (\d+)$", content, re.M)
        if m:
            return int(m.group(1)), str(target)
    return None


def kernel_oom_lines(since: float | None = None, kmsg: str = KMSG) -> list[str] | None:
    """The kernel's OOM-killer lines (``[seconds] text``) logged at or after ``since``
    (``time.monotonic()`` seconds; the kernel stamps records in the same clock), or None
    when the kernel log cannot be read here."""
    try:
        fd = os.open(kmsg, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    out: list[str] = []
    read = 0
    try:
        while read < MAX_KMSG_BYTES:
            try:
                rec = os.read(fd, 8192)
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # a record was overwritten while reading
                    continue
                break  # EAGAIN: the end of the buffer; anything else: stop
            if not rec:
                break
            read += len(rec)
            # /dev/kmsg gives one record a read ("prio,seq,usec,flags;text" and indented
            # key=value lines); a saved copy gives many: read it line by line
            for line in rec.decode("utf-8", "replace").splitlines():
                head, sep, text = line.partition(";")
                if not sep or line.startswith(" ") or not _OOM.search(text):
                    continue
                try:
                    stamp = int(head.split(",")[2]) / 1e6
                except (IndexError, ValueError):
                    continue
                if since is None or stamp >= since - 1.0:
                    out.append(f"[{stamp:12.6f}] {text}")
    finally:
        os.close(fd)
    return out


@dataclass
class KillWatch:
    """Watch one step: the cgroup counter at its start, its witnesses at its end."""

    started: float = field(default_factory=time.monotonic)
    before: tuple[int, str] | None = field(default_factory=cgroup_oom_kills)

    def evidence(self) -> list[tuple[str, str]]:
        """``(source, line)`` pairs saying the OOM killer acted while the step ran; empty
        when neither witness says so (or neither can be read)."""
        out: list[tuple[str, str]] = []
        for line in kernel_oom_lines(self.started) or []:
            out.append(("kernel log (/dev/kmsg)", line))
        after = cgroup_oom_kills()
        if self.before is not None and after is not None and after[0] > self.before[0]:
            out.append(
                (
                    after[1],
                    f"{Path(after[1]).name}: oom_kill {self.before[0]} -> {after[0]} ({after[1]},"
                    " read by wantui when the step started and when it ended)",
                )
            )
        return out


def feed_evidence(matcher: Any, watch: KillWatch | None) -> list[Any]:
    """Feed a matcher the witnesses of a step that ended badly, each under its own source,
    before ``finish``; returns the findings they completed (the rules decide what they
    mean: ``host-oom``)."""
    if watch is None or matcher is None:
        return []
    from wantui.core.logtext import Line

    found: list[Any] = []
    for n, (source, text) in enumerate(watch.evidence(), 1):
        matcher.set_source(source)
        found += matcher.feed(Line(n, text))
    return found
