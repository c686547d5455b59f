"""The demo's sandbox trackers: started in this process, or reused when `make up` already serves them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sandbox import SandboxConfig, SandboxTrackers
from sandbox.server import loopback_host
from siisurit.demo.trackers import demo_sandbox_ports

_CONNECT_TIMEOUT_SECONDS = 1.0


class DemoSandboxError(Exception):
    """The sandbox ports are taken by something else, or only some of them answer."""


@dataclass(frozen=True)
class DemoSandbox:
    host: str
    ports: dict[str, int]
    #: True if this process started the trackers, False if it reuses running ones (e.g. `make up`'s).
    started: bool


def _port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_SECONDS):
            return True
    except OSError:
        return False


@contextmanager
def demo_sandbox(*, host: str, base_port: int, seed: int, task_count: int, entry_count: int) -> Iterator[DemoSandbox]:
    """Serve the sandbox trackers on BASE … BASE+5 for the duration of the block (or reuse running ones)."""
    try:
        ports = demo_sandbox_ports(base_port=base_port)
        loopback_host(host)
    except ValueError as error:
        raise DemoSandboxError(str(error)) from None
    answering = {kind: port for kind, port in ports.items() if _port_answers(host, port)}
    if answering and len(answering) == len(ports):
        yield DemoSandbox(host=host, ports=ports, started=False)
        return
    if answering:
        taken = ", ".join(f"{kind} {port}" for kind, port in answering.items())
        raise DemoSandboxError(
            f"ports {taken} on {host} are taken by something other than the sandbox trackers; stop it or pick "
            "other ports with --sandbox-port"
        )
    sandbox = SandboxTrackers(
        SandboxConfig(seed=seed, ports=ports, host=host, task_count=task_count, entry_count=entry_count)
    )
    try:
        sandbox.start()
    except OSError as error:
        raise DemoSandboxError(f"cannot start the sandbox trackers on {host}:{base_port}…: {error}") from error
    try:
        yield DemoSandbox(host=host, ports=ports, started=True)
    finally:
        sandbox.stop()
