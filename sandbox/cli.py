"""Command line of the sandbox trackers, shared by ``python -m sandbox`` and ``manage.py run_sandbox``."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable

from sandbox.kinds import KINDS
from sandbox.trackers import DEFAULT_ENTRY_COUNT, DEFAULT_TASK_COUNT, SandboxConfig, SandboxTrackers

DEFAULT_PORTS = "18801-18806"


def parse_ports(text: str) -> dict[str, int]:
    """``18801-18806`` (in the order of KINDS), ``18801,18802,...``, ``github=18801,kimai=18805`` or ``0``."""
    text = text.strip()
    try:
        if text == "0":
            return {}
        if "=" in text:
            pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
            ports = {kind.strip(): int(port) for kind, port in pairs}
            unknown = set(ports) - set(KINDS)
            if unknown:
                raise argparse.ArgumentTypeError(f"unknown tracker kinds: {', '.join(sorted(unknown))}")
            return ports
        if "-" in text:
            first, last = (int(part) for part in text.split("-", 1))
            numbers = list(range(first, last + 1))
        else:
            numbers = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid ports {text!r}") from None
    if len(numbers) != len(KINDS):
        raise argparse.ArgumentTypeError(f"give {len(KINDS)} ports ({', '.join(KINDS)}), not {len(numbers)}")
    if any(not 0 < number < 65536 for number in numbers):
        raise argparse.ArgumentTypeError(f"ports must lie between 1 and 65535: {text!r}")
    return dict(zip(KINDS, numbers, strict=True))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ports",
        type=parse_ports,
        default=parse_ports(DEFAULT_PORTS),
        help=f"ports of {', '.join(KINDS)}: a range like 18801-18806, a list, kind=port pairs, or 0 for "
        f"ephemeral ports (default: {DEFAULT_PORTS})",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default: 127.0.0.1)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data (default: 1)")
    parser.add_argument(
        "--tasks", type=int, default=DEFAULT_TASK_COUNT, help=f"issues per task tracker (default: {DEFAULT_TASK_COUNT})"
    )
    parser.add_argument(
        "--entries",
        type=int,
        default=DEFAULT_ENTRY_COUNT,
        help=f"work entries of the seeded project per time tracker (default: {DEFAULT_ENTRY_COUNT})",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="delay of every answer in ms (default: 0)")


def sandbox_from_options(options: dict) -> SandboxTrackers:
    return SandboxTrackers(
        SandboxConfig(
            seed=options["seed"],
            ports=options["ports"],
            host=options["host"],
            task_count=options["tasks"],
            entry_count=options["entries"],
            latency_ms=options["latency_ms"],
        )
    )


def describe(sandbox: SandboxTrackers) -> list[str]:
    """Lines telling where each running tracker listens and which credentials it accepts."""
    lines = []
    for kind, info in sandbox.credentials().items():
        lines.append(f"{kind:9} {info['base_url']}  api_location: {info['api_location']}")
        lines.append(f"{'':9} username: {info['username']}  token: {info['token']}")
    return lines


def serve_until_signal(sandbox: SandboxTrackers, write: Callable[[str], object]) -> None:
    """Start the sandbox, report it with ``write`` and run until SIGINT or SIGTERM; then stop cleanly."""
    stopping = threading.Event()
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in previous:
        signal.signal(number, lambda *_: stopping.set())
    try:
        with sandbox:
            for line in describe(sandbox):
                write(line)
            write("Sandbox trackers are running; press Ctrl-C to stop.")
            # Short waits: the kernel may deliver the signal to a server thread, and Python runs the handler only
            # when the main thread wakes up; a long wait would then outlast the signal by up to its length.
            while not stopping.wait(0.5):
                pass
        write("Sandbox trackers stopped.")
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
