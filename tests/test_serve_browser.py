"""``wantui serve`` in a real headless Chromium (issue 15 item 4): the page loads with its
token, keys reach the app, a live log streams, a dropped connection reconnects, and a page
from another origin cannot connect.

The browser is Debian's ``chromium`` (``.ci/run`` installs it), driven by Playwright
through ``executable_path`` (no browser download). The app follows a real detached run of
a fake step that prints ``tick N`` lines. What the app draws travels as terminal bytes on
the WebSocket; the test reads those frames (xterm.js draws on a canvas). A TCP proxy
between the browser and the server lets the test cut the connection like a network would.

``WANTUI_SCREENSHOT=docs/serve.png`` also writes the docs' screenshot.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes.fakeproject import make_project  # noqa: E402

from tests.serve_helpers import free_port, printed_url, start_serve  # noqa: E402

pytest.importorskip("textual_serve")
playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]
ANSI = re.compile(
    r"\x1b(?:\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)"
)


def chromium() -> str | None:
    for name in (os.environ.get("WANTUI_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Proxy:
    """127.0.0.1:port -> target, with :meth:`cut` to drop every open connection."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.open: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            self.accepted += 1
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """What a dropped network does: every connection ends without a close frame."""
        for s in self.open:
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # wakes the pipe threads blocked in recv
            with contextlib.suppress(OSError):
                s.close()
        self.open.clear()

    def close(self) -> None:
        self.sock.close()
        self.cut()


def other_origin_page(ws_url: str) -> ThreadingHTTPServer:
    """A page on another port (another origin) that tries the app's WebSocket, token and
    all; it says in its title whether it got in."""
    html = f"""<html><head><title>waiting</title></head><body><script>
var s = new WebSocket({ws_url!r});
s.onopen = function () {{ document.title = "OPEN"; }};
s.onclose = function (e) {{ if (document.title !== "OPEN") document.title = "refused " + e.code; }};
</script></body></html>""".encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Proxy]]:
    """A project with a run printing a tick a second, served by `wantui serve`:
    (the page URL through the proxy, the token, the proxy)."""
    from wantui.core.supervisor import start_run, stop_run

    proj = tmp_path / "proj"
    make_project(
        proj,
        {"train": "tick"},
        steps=("train",),
        env={"train": {"FAKE_DELAY": "0.5", "FAKE_STEPS": "400"}},
    )
    handle = start_run(load(proj), ["train"])
    free = free_port()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    proc = start_serve(proj, free, env=env, start_new_session=True)
    proxy = Proxy(free)
    try:
        url = printed_url(proc)
        assert url, "wantui serve printed no URL"
        token = url.split("token=")[1]
        for _ in range(100):  # the URL is printed just before the port listens
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", free), 0.2):
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{proxy.port}/?token={token}", token, proxy
    finally:
        proxy.close()
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        stop_run(handle.run_dir, sigint_grace=1)


def load(proj: Path):  # noqa: ANN201
    from wantui.core.project import load_project

    return load_project(proj)


class Screen:
    """The text the app sent to the browser, per WebSocket, with terminal codes removed."""

    def __init__(self, page) -> None:  # noqa: ANN001
        self.sockets: list[list[str]] = []
        page.on("websocket", self._opened)

    def _opened(self, ws) -> None:  # noqa: ANN001
        frames: list[str] = []
        self.sockets.append(frames)

        def got(payload: object) -> None:
            text = (
                payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
            )
            frames.append(ANSI.sub("", text))

        ws.on("framereceived", got)

    def text(self, index: int = -1) -> str:
        return "".join(self.sockets[index]) if self.sockets else ""

    def wait_for(self, pattern: str, page, timeout: float = 45.0, index: int = -1) -> re.Match[str]:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text(index)) if self.sockets else None
            if m:
                return m
            page.wait_for_timeout(200)
        raise AssertionError(
            f"{pattern!r} never reached the browser; last: {self.text(index)[-500:]!r}"
        )


def ticks(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"tick (\d+) of 400", text)}


def test_served_app_in_headless_chromium(served: tuple[str, str, Proxy]) -> None:
    exe = chromium()
    if exe is None:
        pytest.skip("no chromium executable (apt-get install chromium; .ci/run does)")
    url, token, proxy = served
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=exe, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.set_default_timeout(30_000)
            screen = Screen(page)
            # 1. the page loads with its token, and the app draws in it
            response = page.goto(url)
            assert response is not None and response.status == 200
            page.wait_for_selector("body.-first-byte", timeout=60_000)
            screen.wait_for(r"tick \d+ of 400", page)
            # 2. a live log streams: later ticks arrive while we watch
            first = max(ticks(screen.text()))
            screen.wait_for(rf"tick (?:{first + 2}|{first + 3}|{first + 4}) of 400", page)
            if os.environ.get("WANTUI_SCREENSHOT"):
                page.wait_for_timeout(1000)
                page.screenshot(path=os.environ["WANTUI_SCREENSHOT"])
            # 3. keys reach the app: `l` says where the step's log is
            page.click("#terminal")
            page.keyboard.press("l")
            screen.wait_for(r"train log:", page)
            # 4. a dropped connection reconnects: the page comes back with a new session
            #    that follows the same run
            before = len(screen.sockets)
            proxy.cut()
            deadline = time.monotonic() + 45
            while len(screen.sockets) == before and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert len(screen.sockets) > before, "the page did not reconnect"
            # the new session follows the same run: it shows ticks written after the cut
            seen = max(ticks(screen.text(0)))
            screen.wait_for(rf"tick (?:{seen + 1}|{seen + 2}|{seen + 3}|{seen + 4}) of 400", page)
            # 5. a page from another origin cannot connect, even with the token
            ws_url = (
                url.replace("http://", "ws://").split("/?")[0] + f"/ws/{token}?width=80&height=24"
            )
            other = other_origin_page(ws_url)
            try:
                evil = browser.new_page()
                evil.goto(f"http://127.0.0.1:{other.server_address[1]}/")
                evil.wait_for_function("document.title !== 'waiting'", timeout=15_000)
                assert evil.title().startswith("refused"), evil.title()
            finally:
                other.shutdown()
        finally:
            browser.close()
