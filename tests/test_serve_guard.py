"""``wantui serve`` refuses what a hostile web page can send (issue 10, defect 1).

Real aiohttp clients on 127.0.0.1 against the guarded textual-serve app: a WebSocket from
another site's page (its Origin), a DNS-rebound name (its Host), no or a wrong token, one
session too many. The app process is a stand-in (``python`` reading one byte), so the
tests take seconds. The last test runs ``wantui serve`` itself and uses the URL it prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import shlex
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

pytest.importorskip("textual_serve")
aiohttp = pytest.importorskip("aiohttp")

from aiohttp import web  # noqa: E402
from textual_serve.server import Server  # noqa: E402

from tests.serve_helpers import free_port, printed_url, start_serve, stop_serve  # noqa: E402
from wantui.cli.serve_guard import Guard, guarded, split_host  # noqa: E402

# exits when the server sends anything (the quit message when the browser goes)
STAND_IN = shlex.join([sys.executable, "-c", "import sys; sys.stdin.buffer.read(1)"])


@pytest.fixture(autouse=True)
def _collect() -> Iterator[None]:
    """Run the finalizers of this test's event loop objects now: CPython 3.11.7 raises
    "AST constructor recursion depth mismatch" when one runs inside a later ast.parse
    (pytest's assertion rewriting of another module)."""
    yield
    gc.collect()


@contextlib.asynccontextmanager
async def serving(max_sessions: int = 2) -> AsyncIterator[tuple[str, Guard]]:
    guard = Guard.for_host("127.0.0.1", [], max_sessions)
    server = guarded(Server, guard)(STAND_IN, host="127.0.0.1", port=0, title="t")
    server.console.quiet = True
    app = await server._make_app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"127.0.0.1:{port}", guard
    finally:
        for _ in range(200):  # let closed sessions stop their app processes
            if guard.sessions == 0:
                break
            await asyncio.sleep(0.05)
        await runner.cleanup()


async def ws_status(hostport: str, path: str, headers: dict[str, str]) -> int:
    """The HTTP status of a WebSocket upgrade (101 when accepted)."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(
                f"ws://{hostport}{path}?width=80&height=24", headers=headers, timeout=10
            ) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


def run(coro: object) -> object:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


def test_hostile_upgrades_are_refused() -> None:
    async def go() -> dict[str, int]:
        async with serving() as (hp, guard):
            ok = f"/ws/{guard.token}"
            wrong = "/ws/" + ("A" * len(guard.token))
            own = {"Origin": f"http://{hp}"}
            port = hp.split(":")[1]
            cases = {
                "own page": (ok, own),
                "localhost page": (ok, {"Origin": f"http://localhost:{port}", "Host": f"localhost:{port}"}),
                "other site": (ok, {"Origin": "http://evil.example"}),
                "other port": (ok, {"Origin": "http://127.0.0.1:1"}),
                "null origin": (ok, {"Origin": "null"}),
                "no origin": (ok, {}),
                "https look-alike": (ok, {"Origin": f"https://{hp}.evil.example"}),
                "no token (textual-serve's /ws)": ("/ws", own),
                "wrong token": (wrong, own),
                "token prefix": (f"/ws/{guard.token[:-1]}", own),
                "rebound name": (ok, {"Origin": f"http://evil.example:{port}", "Host": f"evil.example:{port}"}),
                "localhost lookalike": (ok, {"Origin": f"http://localhost.evil.example:{port}", "Host": f"localhost.evil.example:{port}"}),
            }  # fmt: skip
            return {name: await ws_status(hp, path, h) for name, (path, h) in cases.items()}

    got = run(go())
    assert got.pop("own page") == 101 and got.pop("localhost page") == 101, got
    assert got == {
        "other site": 403,
        "other port": 403,
        "null origin": 403,
        "no origin": 403,
        "https look-alike": 403,
        "no token (textual-serve's /ws)": 404,
        "wrong token": 403,
        "token prefix": 403,
        "rebound name": 421,
        "localhost lookalike": 421,
    }


def test_page_needs_the_token_and_names_its_own_host() -> None:
    async def go() -> list[tuple[int, str]]:
        async with serving() as (hp, guard), aiohttp.ClientSession() as s:
            out = []
            for url, headers in (
                (f"http://{hp}/", {}),
                (f"http://{hp}/?token=nope", {}),
                (f"http://{hp}/?token={guard.token}", {"Host": "evil.example"}),
                (f"http://{hp}/static/js/", {"Host": "evil.example"}),
                (f"http://{hp}/?token={guard.token}", {}),
            ):
                async with s.get(url, headers=headers) as r:
                    out.append((r.status, await r.text()))
            return out

    (s1, _), (s2, _), (s3, _), (s4, _), (s5, page) = run(go())
    assert (s1, s2, s3, s4, s5) == (403, 403, 421, 421, 200)
    ws = re.search(r'data-session-websocket-url="([^"]+)"', page)
    assert ws and re.fullmatch(r"ws://127\.0\.0\.1:\d+/ws/[\w-]{40,}", ws.group(1)), page[:300]


def test_sessions_are_capped() -> None:
    async def go() -> tuple[list[int], int, int]:
        async with serving(max_sessions=2) as (hp, guard), aiohttp.ClientSession() as s:
            url = f"ws://{hp}/ws/{guard.token}?width=80&height=24"
            own = {"Origin": f"http://{hp}"}
            opened = [await s.ws_connect(url, headers=own) for _ in range(2)]
            third = await ws_status(hp, f"/ws/{guard.token}", own)
            await opened[0].close()
            for _ in range(100):  # the server notices the close, stops that app
                if guard.sessions < 2:
                    break
                await asyncio.sleep(0.05)
            again = await ws_status(hp, f"/ws/{guard.token}", own)
            await opened[1].close()
            return [101, 101], third, again

    _, third, again = run(go())
    assert third == 503 and again == 101


def test_host_names() -> None:
    g = Guard.for_host("0.0.0.0", ["gpu-box.lan"], 1)
    assert g.host_ok("127.0.0.1:8000") and g.host_ok("[::1]:8000") and g.host_ok("10.0.0.5")
    assert g.host_ok("localhost:9000") and g.host_ok("LOCALHOST.") and g.host_ok("gpu-box.lan:80")
    assert not g.host_ok("evil.example:8000") and not g.host_ok("") and not g.host_ok(None)
    assert not g.host_ok("127.0.0.1.evil.example")
    assert split_host("[::1]:8000") == "::1" and split_host("::1") == "::1"
    assert g.token_ok(g.token) and not g.token_ok(g.token + "x") and not g.token_ok(None)
    assert Guard.for_host("127.0.0.1", [], 1).token != g.token


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child")
@pytest.mark.timeout(120)
def test_wantui_serve_prints_a_url_with_its_token(tmp_path: Path) -> None:
    free = free_port()
    proc = start_serve(tmp_path, free)
    try:
        url = printed_url(proc, prefix="open ")
        assert url, "no URL printed"
        token = url.split("token=")[1]

        async def probe() -> tuple[int, int, int]:
            hp = f"127.0.0.1:{free}"
            page = 0
            async with aiohttp.ClientSession() as s:
                for _ in range(200):  # the URL is printed just before the socket listens
                    try:
                        async with s.get(url) as r:
                            page = r.status
                            break
                    except aiohttp.ClientConnectorError:
                        await asyncio.sleep(0.1)
            evil = await ws_status(hp, f"/ws/{token}", {"Origin": "http://evil.example"})
            old = await ws_status(hp, "/ws", {"Origin": "http://evil.example"})
            return page, evil, old

        assert run(probe()) == (200, 403, 404)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        stop_serve(proc)
