"""Child processes, and `celery -A workers worker` as one: for the demo, the tests and anything that starts a worker.

A child runs in its own session (so that it and its pool children can be signalled as a group, and Ctrl-C in a
terminal reaches only the parent) and writes its output to a file (a pipe nobody reads would fill up and block
it). This module imports no Celery: the worker is a command line, and readiness is whatever the caller checks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
LOG_TAIL_LINES = 30
POLL_INTERVAL_SECONDS = 0.05


class ChildStartError(Exception):
    """A child exited or did not get ready in time; the message ends with the tail of its output."""


class ChildProcess:
    """A subprocess in its own session with its output in a file (`log_path`, else a temporary file)."""

    def __init__(
        self, command: Sequence[str], *, env: Mapping[str, str], prefix: str = "child", log_path: Path | None = None
    ) -> None:
        self.command = list(command)
        self.label = prefix
        if log_path is None:
            self._log = tempfile.NamedTemporaryFile(prefix=f"siisurit-{prefix}-", suffix=".log")  # noqa: SIM115
            self.log_path = Path(self._log.name)
        else:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = log_path.open("w", encoding="utf-8")
            self.log_path = log_path
        self._final_output: str | None = None
        self.process = subprocess.Popen(
            self.command, cwd=_REPO, env=dict(env), stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        if self._final_output is not None:
            return self._final_output
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def output_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def wait_until(
        self, condition: Callable[[], object], *, timeout: float, what: str, interval: float = POLL_INTERVAL_SECONDS
    ) -> None:
        """Return once `condition()` is true; ChildStartError if the child exits first or `timeout` passes.

        Between checks it sleeps `interval`: a condition that answers at once (a look into the log) would otherwise
        keep a core busy while the child, starting up, needs it.
        """
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running():
                raise self.failure(f"it exited with code {self.process.returncode} before {what}")
            if condition():
                return
            if time.monotonic() > deadline:
                raise self.failure(f"not {what} within {timeout:g} s")
            time.sleep(interval)

    def failure(self, message: str) -> ChildStartError:
        tail = self.output_tail()
        return ChildStartError(f"{self.label}: {message} (log: {self.log_path})" + (f"\n{tail}" if tail else ""))

    def signal(self, number: int) -> None:
        os.kill(self.process.pid, number)

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no acknowledgement, like an OOM kill."""
        if self.is_running():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (a worker's warm shutdown: running jobs finish), SIGKILL after `timeout`; the exit code."""
        if self.is_running():
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # Pool children that outlived their parent (after a SIGKILL of the parent) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode

    def close(self) -> None:
        """Stop the child and close its log (a temporary log is deleted; `output()` still answers)."""
        self.stop()
        self._final_output = self.output()
        self._log.close()


class WorkerProcess(ChildProcess):
    """`celery -A APP worker` as a child process; without `queues` it consumes every queue of the project."""

    def __init__(
        self,
        *,
        name: str,
        env: Mapping[str, str],
        queues: Sequence[str] | None = None,
        pool: str | None = None,
        concurrency: int | None = None,
        include: Sequence[str] = (),
        loglevel: str = "INFO",
        app: str = "workers",
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        command = [
            sys.executable, "-m", "celery", "-A", app, "worker", "-n", name, f"--loglevel={loglevel}",
            "--without-mingle", "--without-gossip",
            *([f"--pool={pool}"] if pool else []),
            *([f"--concurrency={concurrency}"] if concurrency else []),
            *(["-Q", ",".join(queues)] if queues else []),
            *(["--include", ",".join(include)] if include else []),
        ]  # fmt: skip
        super().__init__(command, env=env, prefix="worker", log_path=log_path)
        self.label = f"worker {name}"
