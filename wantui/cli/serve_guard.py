"""Who may drive the app that ``wantui serve`` puts in a browser.

textual-serve accepts a WebSocket from anyone who reaches the port, and the 127.0.0.1
bind does not stop a web page: any site the user opens can connect to
``ws://127.0.0.1:8000/ws``, type into the app (start a run, apply a fix) and read the
screen. So every request and upgrade is checked here:

* **Host** must be an IP address, ``localhost``, the ``--host`` name or an
  ``--allow-host`` name (DNS rebinding: a site whose name now resolves to 127.0.0.1 sends
  its own name);
* the page and the WebSocket need the **token** printed at start (256 random bits,
  compared in constant time); the WebSocket carries it in its path, ``/ws/<token>``;
* the WebSocket's **Origin** must be the page's own (``http(s)://<Host>``): a browser
  always sends it, and another site cannot fake it;
* at most ``max_sessions`` sessions at once (each one starts an app process).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import secrets
import signal
from dataclasses import dataclass, field
from typing import Any

LOOPBACK_NAMES = frozenset({"localhost"})


def new_token() -> str:
    return secrets.token_urlsafe(32)


def split_host(host_header: str) -> str:
    """The host name of a ``Host`` header, without port, brackets or trailing dot."""
    h = host_header.strip()
    if h.startswith("["):  # [::1]:8000
        return h[1 : h.find("]")] if "]" in h else ""
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".").lower()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


@dataclass
class Guard:
    token: str
    names: frozenset[str] = LOOPBACK_NAMES  # host names accepted besides IP addresses
    max_sessions: int = 4
    sessions: int = field(default=0)

    @classmethod
    def for_host(cls, host: str, allow: list[str], max_sessions: int) -> Guard:
        names = set(LOOPBACK_NAMES) | {split_host(a) for a in allow if a}
        bound = split_host(host)
        if bound and not _is_ip(bound):
            names.add(bound)
        return cls(new_token(), frozenset(names), max_sessions)

    def host_ok(self, host_header: str | None) -> bool:
        name = split_host(host_header or "")
        return bool(name) and (_is_ip(name) or name in self.names)

    def token_ok(self, given: str | None) -> bool:
        return hmac.compare_digest((given or "").encode(), self.token.encode())

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        """The page that opens the WebSocket was served by us: same scheme-less origin
        as the Host the browser sent (an SSH tunnel on another port keeps them equal)."""
        if not origin or not host_header:
            return False
        o = origin.strip().lower()
        return o in (f"http://{host_header.lower()}", f"https://{host_header.lower()}")


def guarded(base: type, guard: Guard) -> type:
    """textual-serve's Server with the checks of this module, Ctrl-C told from SIGTERM,
    and the URL with its token printed at start."""
    from aiohttp import web

    @web.middleware
    async def check_host(request: web.Request, handler: Any) -> web.StreamResponse:
        if not guard.host_ok(request.headers.get("Host")):
            return web.Response(status=421, text="wantui serve: unknown host name\n")
        return await handler(request)

    class _Server(base):  # type: ignore[misc, valid-type]
        interrupted = False

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.guard = guard

        def url(self) -> str:
            return f"{self.public_url}/?token={guard.token}"

        async def _make_app(self) -> Any:
            # serve() gave SIGINT and SIGTERM the same handler; tell them apart
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._ctrl_c)
            import aiohttp_jinja2
            import jinja2

            app = web.Application(middlewares=[check_host])
            aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
            app.add_routes(
                [
                    web.get("/", self.handle_index, name="index"),
                    web.get("/ws/{token}", self.handle_websocket, name="websocket"),
                    web.get("/download/{key}", self.handle_download, name="download"),
                    web.static("/static", self.statics_path, name="static"),
                ]
            )
            app.on_startup.append(self.on_startup)
            app.on_shutdown.append(self.on_shutdown)
            return app

        def _ctrl_c(self) -> None:
            self.interrupted = True
            self.request_exit()

        async def on_startup(self, app: Any) -> None:
            self.console.print(f"wantui serve: open {self.url()}", highlight=False, soft_wrap=True)
            self.console.print(
                f"(the token in the URL is the key: up to {guard.max_sessions} sessions;"
                " Ctrl+C to quit)",
                highlight=False,
            )

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            import aiohttp_jinja2

            if not guard.token_ok(request.query.get("token")):
                return web.Response(
                    status=403, text="wantui serve: open the URL it printed, with its token\n"
                )
            scheme = "https" if request.secure else "http"
            # URLs of the host the browser used (127.0.0.1, localhost, a tunnel's port), so
            # the WebSocket's Origin and Host agree
            context = {
                "font_size": _int(request.query.get("fontsize"), 16),
                "app_websocket_url": f"{'wss' if request.secure else 'ws'}://{request.host}/ws/{guard.token}",
                "config": {"static": {"url": f"{scheme}://{request.host}/static/"}},
                "application": {"name": self.title},
            }
            response = aiohttp_jinja2.render_template("app_index.html", request, context)
            response.text = response.text.replace("</head>", RECONNECT_JS + "</head>", 1)
            response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
            response.headers["Cache-Control"] = "no-store"
            return response

        async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
            if not guard.token_ok(request.match_info.get("token")):
                return web.Response(status=403, text="wantui serve: wrong token\n")
            if not guard.origin_ok(request.headers.get("Origin"), request.headers.get("Host")):
                return web.Response(status=403, text="wantui serve: not from this page\n")
            if guard.sessions >= guard.max_sessions:
                return web.Response(
                    status=503,
                    text=f"wantui serve: {guard.max_sessions} sessions are open already\n",
                )
            guard.sessions += 1
            try:
                return await super().handle_websocket(request)
            finally:
                guard.sessions -= 1

    return _Server


# textual-serve's page shows "Session ended" when its WebSocket closes, whatever closed
# it. A connection that drops (network, a sleeping laptop, an SSH tunnel that restarts:
# close code 1006) comes back instead: the page reloads as soon as the server answers,
# and the new session follows the same run (it lives in its runner, not in the app). An
# app that quits closes cleanly (1000) and is not restarted.
RECONNECT_JS = """<script>
(function () {
  var Native = window.WebSocket, waiting = false, delay = 500;
  function reconnect() {
    if (waiting) return;
    waiting = true;
    (function again() {
      fetch(location.href, {cache: "no-store"}).then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        location.reload();
      }).catch(function () { delay = Math.min(delay * 2, 15000); setTimeout(again, delay); });
    })();
  }
  function Reconnecting(url, protocols) {
    var s = protocols === undefined ? new Native(url) : new Native(url, protocols);
    s.addEventListener("close", function (e) { if (e.code === 1006) reconnect(); });
    return s;
  }
  Reconnecting.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { Reconnecting[k] = Native[k]; });
  window.WebSocket = Reconnecting;
})();
</script>
"""


def _int(value: str | None, default: int) -> int:
    try:
        return max(6, min(int(value or default), 64))
    except ValueError:
        return default
