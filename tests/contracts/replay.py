"""A loopback HTTP server that replays API responses recorded from the real trackers (one helper for all of them).

Recordings live beside the tests as data, exactly as recorded: `<name>.json` is the body and the optional
`<name>.headers.json` holds `{"status": 200, "headers": [[name, value], …]}`. While serving, the origins the
recording was made on (`https://api.github.com`, …) are rewritten to the replay server's own base URL, in the
body and in the headers (a `Link` header then points back at the replay server), so pagination works as recorded.

A route answers a method, a path and the query parameters it names (other parameters of the request are ignored;
the route naming the most matching parameters wins). Requests no route answers get a 404 and are listed in
`unanswered`, so a test can show the connector asked only for what was recorded. A request whose `If-None-Match`
names the recording's `ETag` gets a 304 Not Modified, as from the recorded server.

    with ReplayServer(origins=["https://api.github.com"]) as server:
        server.route("/repos/o/r/issues", recording(FOLDER, "issues-page-1"))
        server.route("/repositories/3/issues", recording(FOLDER, "issues-page-2"), query={"page": "2"})
        … connector with api_base_url=server.base_url …
        assert server.paths_requested() == [...]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_NO_BODY_STATUSES = (204, 304)
# Hop-by-hop or length headers of the recording that no longer fit the replayed (rewritten, unencoded) body.
_DROPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive"})


@dataclass(frozen=True)
class Recording:
    """One recorded response: status, headers in their recorded order, body bytes (None: no body)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    name: str = ""

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def json(self) -> Any:
        """The body as recorded (not rewritten), for comparing stored fields with it."""
        return json.loads(self.body) if self.body else None


def recording(folder: Path, name: str) -> Recording:
    """`<folder>/<name>.json` as body, with status and headers from `<name>.headers.json` (default 200, JSON)."""
    body_path = folder / f"{name}.json"
    headers_path = folder / f"{name}.headers.json"
    meta = json.loads(headers_path.read_text(encoding="utf-8")) if headers_path.exists() else {}
    listed = meta.get("headers", [["Content-Type", "application/json"]])
    headers = tuple((str(key), str(value)) for key, value in listed)
    body = body_path.read_bytes() if body_path.exists() else None
    return Recording(status=int(meta.get("status", 200)), headers=headers, body=body, name=name)


def json_response(status: int, data: Any, headers: Iterable[tuple[str, str]] = ()) -> Recording:
    """A response built by the test (an error a recording lacks, e.g. a 404 on page 2): JSON `data`."""
    body = json.dumps(data).encode()
    return Recording(status, (("Content-Type", "application/json"), *headers), body, name=f"built {status}")


@dataclass
class Route:
    method: str
    path: str
    query: dict[str, str]
    response: Recording
    times_served: int = 0


@dataclass(frozen=True)
class ReplayedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


class ReplayServer:
    """Serves recorded responses on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, *, origins: Sequence[str] = ()) -> None:
        self.origins = [origin.rstrip("/") for origin in origins]
        self.routes: list[Route] = []
        self.requests: list[ReplayedRequest] = []
        self.unanswered: list[ReplayedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(
        self, path: str, response: Recording, *, query: Mapping[str, str] | None = None, method: str = "GET"
    ) -> Route:
        """Answer `method path` (with at least these `query` parameters) with `response`; returns the route."""
        added = Route(method.upper(), path, dict(query or {}), response)
        self.routes.append(added)
        return added

    def paths_requested(self) -> list[str]:
        """`path?sorted query` of every request in order (for asserting the pages a connector walked)."""
        return [_path_with_query(request.path, request.query) for request in self.requests]

    def rewritten(self, text: str) -> str:
        for origin in self.origins:
            text = text.replace(origin, self.base_url)
        return text

    def answer(self, request: ReplayedRequest) -> Recording | None:
        with self._lock:
            self.requests.append(request)
            candidates = [
                route
                for route in self.routes
                if route.method == request.method
                and route.path == request.path
                and all(request.query.get(key) == value for key, value in route.query.items())
            ]
            if not candidates:
                self.unanswered.append(request)
                return None
            chosen = max(candidates, key=lambda route: len(route.query))
            chosen.times_served += 1
            return chosen.response

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="replay-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _not_modified(response: Recording, if_none_match: str | None) -> Recording:
    """304 without a body when the request names the recording's `ETag`, as the recorded server would answer."""
    etag = response.header("ETag")
    if not etag or not if_none_match or etag not in [tag.strip() for tag in if_none_match.split(",")]:
        return response
    return Recording(304, (("ETag", etag),), None, name=f"{response.name} (not modified)")


def _path_with_query(path: str, query: Mapping[str, str]) -> str:
    return path + ("?" + "&".join(f"{key}={value}" for key, value in sorted(query.items())) if query else "")


def _handler_class(replay: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._replay()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self._replay()

        def _replay(self) -> None:
            parts = urlsplit(self.path)
            request = ReplayedRequest(
                method=self.command,
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={key.lower(): value for key, value in self.headers.items()},
            )
            response = replay.answer(request) or json_response(404, {"message": "Not Found (no recording)"})
            response = _not_modified(response, request.headers.get("if-none-match"))
            body = b"" if response.body is None else replay.rewritten(response.body.decode("utf-8")).encode("utf-8")
            self.send_response(response.status)
            for name, value in response.headers:
                if name.lower() not in _DROPPED_HEADERS:
                    self.send_header(name, replay.rewritten(value))
            if response.status not in _NO_BODY_STATUSES:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if response.status not in _NO_BODY_STATUSES:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test asserts on `ReplayServer.requests` instead."""

    return Handler
