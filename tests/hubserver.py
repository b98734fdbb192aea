"""A small Hugging Face hub look-alike on 127.0.0.1 for the download tests.

It implements what ``huggingface_hub`` uses to fetch one file:

- ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``: ``ETag``, ``X-Repo-Commit``,
  ``X-Linked-Etag`` (the sha256 of an LFS file), ``X-Linked-Size``, ``Content-Length``;
  LFS files answer ``302`` to ``http://localhost:PORT/cdn/<sha>`` (another host name for
  the same 127.0.0.1 socket), like the hub's redirect to its CDN;
- ``GET /cdn/<sha>`` with ``Range: bytes=N-`` (``206`` + ``Content-Range``);
- errors the way the hub sends them: ``X-Error-Code: GatedRepo`` (401 without a token,
  403 with one), ``RepoNotFound`` (401), ``EntryNotFound`` (404);
- ``/api/models/{repo}/revision/{rev}`` for clients that ask.

Faults for tests: cut the body after ``cut_after`` bytes for the next ``cuts`` GETs, lie
about the sha256 (``wrong_sha``), or hide the size from HEAD (``hide_size``). The server
runs in a daemon thread and stops by itself after ``max_life`` seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubState:
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)
    lfs: bool = True  # serve files as LFS (302 to /cdn, X-Linked-Etag = sha256)
    wrong_sha: bool = False
    hide_size: bool = False
    cut_after: int | None = None
    pause_after: int | None = None  # send this many bytes, wait pause_s, send the rest
    pause_s: float = 0.0
    cuts: int = 0
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sha(self, data: bytes) -> str:
        real = hashlib.sha256(data).hexdigest()
        return ("f" * 64) if self.wrong_sha else real

    def by_sha(self, sha: str) -> bytes | None:
        for data in self.files.values():
            if hashlib.sha256(data).hexdigest() == sha:
                return data
        return None


_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)$")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    @property
    def state(self) -> HubState:
        return self.server.state

    def _error(self, status: int, code: str | None, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        path = unquote(self.path.split("?", 1)[0])
        with self.state.lock:
            self.state.requests.append(
                (self.command, path, {k.lower(): v for k, v in self.headers.items()})
            )
        auth = self.headers.get("Authorization")
        if path.startswith("/cdn/"):
            return self._serve_cdn(path[5:])
        m = _API.match(path)
        if m:
            repo = m.group("repo")
            if repo not in {r for r, _ in self.state.files}:
                return self._error(401 if not auth else 404, "RepoNotFound", "Repository not found")
            body = json.dumps(
                {
                    "id": repo,
                    "sha": COMMIT,
                    "siblings": [{"rfilename": f} for r, f in self.state.files if r == repo],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)
            return
        m = _RESOLVE.match(path)
        if not m:
            return self._error(404, None, "not found")
        repo, filename = m.group("repo"), m.group("file")
        if repo in self.state.gated:
            if not auth:
                return self._error(
                    401, "GatedRepo", f"Access to model {repo} is restricted. Please log in."
                )
            return self._error(
                403,
                "GatedRepo",
                f"Access to model {repo} is restricted and you are not in the authorized list.",
            )
        if repo not in {r for r, _ in self.state.files}:
            return self._error(401 if not auth else 404, "RepoNotFound", "Repository Not Found")
        data = self.state.files.get((repo, filename))
        if data is None:
            return self._error(404, "EntryNotFound", f"{filename} does not exist on 'main'")
        sha = self.state.sha(data)
        if self.state.lfs:
            self.send_response(302)
            # another host name for the same server: the client must not follow it on HEAD
            # (the metadata is on this response) nor send the token there
            port = self.server.server_address[1]
            self.send_header(
                "Location", f"http://localhost:{port}/cdn/{hashlib.sha256(data).hexdigest()}"
            )
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{sha}"')
            self.send_header("X-Linked-Etag", f'"{sha}"')
            if not self.state.hide_size:
                self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send_body(data, etag=f'"{hashlib.sha1(data).hexdigest()}"')

    def _serve_cdn(self, sha: str) -> None:
        data = self.state.by_sha(sha)
        if data is None:
            return self._error(404, None, "no such object")
        self._send_body(data, etag=f'"{sha}"')

    def _send_body(self, data: bytes, etag: str) -> None:
        start, stop = 0, len(data)
        rng = self.headers.get("Range")
        if rng:
            with self.state.lock:
                self.state.ranges.append(rng)
            m = re.match(r"bytes=(\d+)-(\d*)$", rng)
            if m:
                start = int(m.group(1))
                if m.group(2):
                    stop = min(len(data), int(m.group(2)) + 1)
        if start > len(data) or stop <= start < len(data):
            return self._error(416, None, "range not satisfiable")
        body = data[start:stop]
        self.send_response(206 if start or stop < len(data) else 200)
        self.send_header("ETag", etag)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Accept-Ranges", "bytes")
        if start or stop < len(data):
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
        if not (self.command == "HEAD" and self.state.hide_size):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        cut = None
        with self.state.lock:
            if self.state.cuts > 0 and self.state.cut_after is not None:
                self.state.cuts -= 1
                cut = self.state.cut_after
        if cut is not None and cut < len(body):
            self.wfile.write(body[:cut])
            self.wfile.flush()
            with self.state.lock:
                self.state.bytes_sent += cut
            self.close_connection = True
            # drop the socket mid-body, as a broken connection would
            import socket

            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if self.state.pause_after is not None and self.state.pause_after < len(body):
            self.wfile.write(body[: self.state.pause_after])
            self.wfile.flush()
            import time

            time.sleep(self.state.pause_s)  # a stalled transfer
            body = body[self.state.pause_after :]
            with self.state.lock:
                self.state.bytes_sent += self.state.pause_after
        self.wfile.write(body)
        with self.state.lock:
            self.state.bytes_sent += len(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: HubState

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        # the interrupted-download tests drop the connection mid-body on purpose: that
        # is their point, not a server error worth a traceback in the test output
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class HubServer:
    """``with HubServer() as hub: hub.add("org/repo", "file.bin", data); hub.endpoint``."""

    def __init__(self, max_life: float = 120.0) -> None:
        self.state = HubState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._timer = threading.Timer(max_life, self.stop)
        self._timer.daemon = True

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, repo: str, filename: str, data: bytes) -> str:
        self.state.files[(repo, filename)] = data
        return hashlib.sha256(data).hexdigest()

    def start(self) -> HubServer:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
