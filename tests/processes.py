"""Helpers for tests that start processes or servers: free loopback ports, a loopback HTTP server, waiting for a
condition, a child's environment."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import connections

#: Where listening ports for the tests' servers are picked: below Linux's ephemeral ports (32768 and up), which any
#: outgoing connection of a parallel test (to Redis, PostgreSQL) may take between the check and the server's bind.
_TEST_PORTS = range(20000, 32000)


def free_ports(count: int = 1) -> int:
    """The first of `count` consecutive TCP ports on 127.0.0.1 that nobody listens on right now."""
    for _ in range(200):
        base = random.randrange(_TEST_PORTS.start, _TEST_PORTS.stop - count)
        probes: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                probes.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                probes[-1].bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no {count} consecutive free ports found in {_TEST_PORTS}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (and no outgoing connection can take)."""
    return free_ports(1)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler for loopback test servers: HTTP/1.1 (kept-alive connections), no request log."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Send one whole response: status, `headers`, Content-Length and `body`."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def loopback_http_server(handler_class: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler_class` on a free port of 127.0.0.1 in a thread; yields the server's base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def wait_for(condition: Callable[[], object], *, timeout: float, interval: float = 0.05, what: str = "") -> object:
    """Poll `condition` until it returns something truthy (and return that) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:g} s: {what or condition}")
        time.sleep(interval)


def child_environment(**extra: str) -> dict[str, str]:
    """The environment of a child process: this test session's settings (test database) plus `extra`."""
    return {
        **os.environ,
        "SII_POSTGRES_DATABASE": connections["default"].settings_dict["NAME"],
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
