"""One loopback HTTP server per tracker kind: applies latency and faults, counts requests, serves the API."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from sandbox.faults import FaultInjector
from sandbox.messages import Request, Response, TrackerApi
from sandbox.stats import RequestStats

_log = logging.getLogger(__name__)
_NO_BODY_STATUSES = (204, 304)


def loopback_host(host: str) -> str:
    """The host to bind, refusing anything that is not a loopback address."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"sandbox trackers bind loopback addresses only, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"sandbox trackers bind loopback addresses only, not {host!r}")
    return host


class TrackerServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, host: str, port: int, *, kind: str, api: TrackerApi, faults: FaultInjector, stats: RequestStats
    ) -> None:
        host = loopback_host(host)
        if ipaddress.ip_address(host).version == 6:
            self.address_family = socket.AF_INET6
        self.kind = kind
        self.api = api
        self.faults = faults
        self.stats = stats
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox-{self.kind}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SiisuritSandbox/1.0"
    wbufsize = 1 << 16  # headers and body leave in one write (avoids Nagle/delayed-ACK stalls)
    server: TrackerServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        if _log.isEnabledFor(logging.DEBUG):  # every answer logs a line: formatted only when it is shown
            _log.debug("%s %s", self.server.kind, format % args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            base_url=server.base_url,
        )
        if server.faults.latency_ms:
            time.sleep(server.faults.latency_ms / 1000)
        fault = server.faults.take(split.path)
        if fault is not None and fault.fault == "drop":
            server.stats.record(server.kind, None, fault=True)
            self.close_connection = True
            return
        if fault is not None and fault.fault in ("status", "rate_limit", "secondary_rate_limit"):
            response = server.api.fault_response(fault, request)
        elif fault is not None and fault.fault == "endless":
            response = Response.json([], headers=[("Link", _next_page_link(server.base_url, split))])
        else:
            try:
                response = server.api.handle(request)
            except Exception:
                _log.exception("sandbox %s failed on %s", server.kind, self.path)
                response = Response.json({"message": "Internal Server Error"}, 500)
        payload = response.body
        declared = len(payload)
        if fault is not None and fault.fault == "truncate":
            payload = payload[: len(payload) // 2]
            declared = len(payload)
        elif fault is not None and fault.fault == "incomplete":
            payload = payload[: len(payload) // 2]
            self.close_connection = True
        elif fault is not None and fault.fault == "oversize":
            payload += b" " * fault.size
            declared = len(payload)
        # Count before answering, so that a client that has its answer always sees it counted.
        server.stats.record(server.kind, response.status, fault=fault is not None)
        self.send_response(response.status)
        if response.status not in _NO_BODY_STATUSES:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(declared))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and response.status not in _NO_BODY_STATUSES:
            if fault is not None and fault.fault == "trickle":
                self._trickle(payload, fault.delay_ms / 1000)
            else:
                self.wfile.write(payload)

    def _trickle(self, payload: bytes, delay: float) -> None:
        """Send the body one byte at a time, `delay` seconds apart, until done or the client hangs up."""
        self.wfile.flush()
        for index in range(len(payload)):
            time.sleep(delay)
            try:
                self.wfile.write(payload[index : index + 1])
                self.wfile.flush()
            except OSError:
                self.close_connection = True
                return


def _next_page_link(base_url: str, split) -> str:
    """A Link header naming the next page (`page` + 1) of the requested URL."""
    query = parse_qs(split.query, keep_blank_values=True)
    page = int((query.get("page") or ["1"])[0]) + 1
    query["page"] = [str(page)]
    return f'<{base_url}{split.path}?{urlencode(query, doseq=True)}>; rel="next"'
