"""Send notifications through apprise, never in the run's way.

A URL is a secret (a webhook token, a password): it is expanded (``$VAR``) only here,
just before sending, and never printed or logged. A target is named by its scheme and
position ("json #1"); error text is scrubbed of every part of every URL.

:class:`Notifier` sends from one background thread with a timeout per attempt and a few
retries; a target that still fails is reported once (``on_report``), later failures of
it are counted, not repeated.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from wantui.core.args.parse import POSIX_VAR

TIMEOUT_S = 10.0  # one attempt at one target
RETRIES = (2.0, 8.0)  # waits before the 2nd and 3rd attempts


@dataclass(frozen=True)
class Message:
    event: str
    title: str
    body: str
    kind: str = "info"  # info | success | warning | failure (apprise's types)


def expand_url(url: str, environ: Mapping[str, str] | None = None) -> str:
    """``$VAR`` / ``${VAR}`` replaced from the environment (unset: left as written)."""
    env = os.environ if environ is None else environ
    return POSIX_VAR.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), url)


def label(url: str, index: int) -> str:
    """What a target is called in output: its scheme and position, nothing secret."""
    scheme = url.split("://", 1)[0] if "://" in url else "?"
    scheme = re.sub(r"[^A-Za-z0-9+.-]", "", scheme)[:20] or "?"
    return f"{scheme} #{index + 1}"


def secret_parts(url: str) -> list[str]:
    """Every piece of a URL that could be a secret: the whole URL, user, password, host,
    path segments and query values (3+ characters), longest first."""
    parts = {url}
    with contextlib.suppress(ValueError):
        sp = urlsplit(url)
        netloc = sp.netloc
        userinfo = netloc.rpartition("@")[0]
        parts.update(userinfo.split(":"))
        parts.update(p for p in re.split(r"[/?&=#@:,]", url.split("://", 1)[-1]))
        parts.update(unquote(p) for p in list(parts))
    return sorted((p for p in parts if p and len(p) >= 3), key=len, reverse=True)


def scrub(text: str, urls: list[str]) -> str:
    """``text`` with every secret part of ``urls`` replaced by ``<redacted>``."""
    for url in urls:
        for part in secret_parts(url):
            text = text.replace(part, "<redacted>")
    return text


class _Capture(logging.Handler):
    """apprise's log lines for one send (its reason for a failure), kept in memory."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(record.getMessage())


def _quiet_apprise() -> logging.Logger:
    # apprise logs through `logging`; with no handler Python prints warnings to stderr
    # (the runner's log): keep its lines to ourselves, scrubbed before any use
    log = logging.getLogger("apprise")
    log.propagate = False
    log.setLevel(logging.WARNING)
    return log


def send_once(url: str, msg: Message, timeout: float = TIMEOUT_S) -> str | None:
    """Send ``msg`` to one expanded URL: None when sent, else why not (may name the
    URL's parts: scrub before showing)."""
    try:
        import apprise
    except ImportError:
        return "apprise is not installed (pip install apprise)"
    log = _quiet_apprise()
    cap = _Capture()
    log.addHandler(cap)
    try:
        asset = apprise.AppriseAsset(storage_mode="memory")
        ap = apprise.Apprise(asset=asset)
        if not ap.add(url):
            return "not a URL apprise knows (see its list of services)"
        for server in ap:  # a bounded wait on a dead host
            with contextlib.suppress(Exception):
                server.socket_connect_timeout = min(timeout, 5.0)
                server.socket_read_timeout = timeout
        kind = getattr(apprise.NotifyType, msg.kind.upper(), apprise.NotifyType.INFO)
        ok = ap.notify(body=msg.body, title=msg.title, notify_type=kind)
        if ok:
            return None
        return (cap.lines[-1] if cap.lines else "the service did not accept it")[:300]
    except Exception as exc:  # noqa: BLE001 - a notification never breaks the caller
        return f"{type(exc).__name__}: {exc}"[:300]
    finally:
        log.removeHandler(cap)


class Notifier:
    """Queue messages; one daemon thread sends them. ``send`` never blocks."""

    def __init__(
        self,
        urls: list[str],
        *,
        on_report: Callable[[str], None] | None = None,
        environ: Mapping[str, str] | None = None,
        retries: tuple[float, ...] = RETRIES,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.urls = list(urls)
        self.environ = environ
        self.on_report = on_report
        self.retries = retries
        self.timeout = timeout
        self.sent: list[tuple[str, str]] = []  # (event, target label)
        self.failed: dict[str, int] = {}  # label -> failures (reported on the first)
        self._q: queue.Queue[Message | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, msg: Message) -> None:
        if not self.urls:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="notify", daemon=True)
                self._thread.start()
        self._q.put(msg)

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the queue to empty (the runner, before it exits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._q.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return self._q.unfinished_tasks == 0

    def _work(self) -> None:
        while True:
            msg = self._q.get()
            try:
                if msg is not None:
                    for i, raw in enumerate(self.urls):
                        self._deliver(i, raw, msg)
            finally:
                self._q.task_done()

    def _deliver(self, index: int, raw: str, msg: Message) -> None:
        url = expand_url(raw, self.environ)
        name = label(raw, index)
        why: str | None = None
        for attempt in range(len(self.retries) + 1):
            if attempt:
                time.sleep(self.retries[attempt - 1])
            why = send_once(url, msg, self.timeout)
            if why is None:
                self.sent.append((msg.event, name))
                return
        count = self.failed.get(name, 0) + 1
        self.failed[name] = count
        if count == 1 and self.on_report is not None:
            reason = scrub(why or "unknown error", [raw, url])
            with contextlib.suppress(Exception):
                self.on_report(
                    f"a notification to {name} could not be sent ({reason}); later failures"
                    " of this target are not reported"
                )
