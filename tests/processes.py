"""Helpers for tests that start processes: free loopback ports, waiting for a condition, a child's environment."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from django.db import connections


def free_port() -> int:
    """A TCP port on the loopback interface that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
