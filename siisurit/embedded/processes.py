"""Small helpers to inspect, run and stop server processes."""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from siisurit.embedded.errors import EmbeddedServiceError


def pid_is_alive(pid: int) -> bool:
    """True if a process with this id exists (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_is_named(pid: int, executable_name: str) -> bool:
    """True if `pid` is a live (not zombie) process running `executable_name`; guards against reused pids."""
    import psutil  # imported late: the fast path (server already running) never needs it

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        command_line = process.cmdline()
        names = {process.name(), Path(command_line[0]).name if command_line else ""}
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return any(name.startswith(executable_name) for name in names)


def stop_process(pid: int, *, signal_number: int, timeout: float, what: str) -> None:
    """Send `signal_number` to `pid` and wait until it exited."""
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        return
    if not wait_for_exit(pid, timeout):
        raise EmbeddedServiceError(f"{what} (pid {pid}) did not stop within {timeout:g} seconds")


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait until `pid` exited; True if it did within `timeout` seconds.

    A zombie counts as exited: the server is not our child, only its parent (often init) can reap it, and some
    container inits reap late. On Linux a pidfd reports the exit as an event; elsewhere we poll.
    """
    if hasattr(os, "pidfd_open"):
        try:
            descriptor = os.pidfd_open(pid)
        except ProcessLookupError:
            return True
        except OSError:
            pass  # e.g. pidfd not allowed in this sandbox: poll instead
        else:
            try:
                readable, _, _ = select.select([descriptor], [], [], timeout)
            finally:
                os.close(descriptor)
            return bool(readable)
    deadline = time.monotonic() + timeout
    while _is_running(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _is_running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def run_tool(
    arguments: Sequence[str | Path],
    *,
    what: str,
    cwd: Path,
    timeout: float,
    uid: int | None = None,
    gid: int | None = None,
) -> str:
    """Run a server tool and return its output; on failure raise an error showing that output.

    Output goes to a temporary file, not a pipe: a daemon forked by the tool could inherit a pipe and make us
    wait for it forever.
    """
    as_user: dict[str, object] = {} if uid is None else {"user": uid, "group": gid, "extra_groups": []}
    with tempfile.TemporaryFile("w+") as output:
        try:
            result = subprocess.run(
                [str(argument) for argument in arguments],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                timeout=timeout,
                check=False,
                **as_user,
            )
        except subprocess.TimeoutExpired:
            output.seek(0)
            raise EmbeddedServiceError(f"{what} took longer than {timeout:g} seconds:\n{output.read()}") from None
        output.seek(0)
        text = output.read()
    if result.returncode != 0:
        raise EmbeddedServiceError(f"{what} failed with exit code {result.returncode}:\n{text}")
    return text
