"""Processes for failure-injection tests: Celery workers, beat, Flower and a private Redis server.

Every process gets the test settings by environment (the test database, the test Redis databases) plus what a
test adds (short visibility timeout, short backoff, ...), writes its output to a file (a pipe nobody reads would
fill up and block it) and runs in its own session, so that a test can kill it, or its pool children, by pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import redis

from tests.processes import child_environment, free_port, wait_for

_REPO = Path(__file__).resolve().parent.parent.parent
#: Modules the worker imports besides the production tasks: the test-only jobs.
TEST_TASK_MODULES = "tests.worker,tests.reliability.jobs"


class ChildProcess:
    """A subprocess in its own session with its output in a temporary file."""

    def __init__(self, command: list[str], *, env: dict[str, str], prefix: str) -> None:
        self.command = command
        self.log = tempfile.NamedTemporaryFile(prefix=f"siisurit-{prefix}-", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=_REPO, env=env, start_new_session=True, stdout=self.log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        if self.log.closed:
            return self._final_output
        return Path(self.log.name).read_text(errors="replace")

    def is_running(self) -> bool:
        return self.process.poll() is None

    def signal(self, number: int) -> None:
        os.kill(self.process.pid, number)

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no acknowledgement, like an OOM kill of the worker."""
        if self.is_running():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if self.is_running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # Pool children that outlived their parent (after a SIGKILL of the parent) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        self.stop()
        self._final_output = self.output()
        self.log.close()


class Worker(ChildProcess):
    """A `celery -A workers worker` process; `pool="prefork"` runs jobs in child processes."""

    def __init__(
        self,
        *,
        pool: str = "solo",
        concurrency: int = 1,
        queues: str = "download,matching,maintenance",
        loglevel: str = "INFO",
        env: dict[str, str] | None = None,
        app: str = "workers",
    ) -> None:
        self.name = f"reliability-{uuid.uuid4().hex[:8]}@{os.uname().nodename}"
        command = [
            sys.executable, "-m", "celery", "-A", app, "worker", f"--pool={pool}", f"--concurrency={concurrency}",
            f"--loglevel={loglevel}", "-Q", queues, "-n", self.name, "--include", TEST_TASK_MODULES,
            "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        super().__init__(command, env=child_environment(**(env or {})), prefix="worker")

    def wait_ready(self, celery_app, timeout: float = 60.0) -> Worker:
        """Return once the worker answers a ping through `celery_app`'s broker (it then consumes its queues)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.output()}")
            if celery_app.control.ping(destination=[self.name], timeout=0.5):
                return self
        raise TimeoutError(f"worker {self.name} did not answer within {timeout} s:\n{self.output()}")

    def wait_ready_by_log(self, timeout: float = 60.0) -> Worker:
        """Return once the worker logs that it is ready (for workers on a broker the test's app does not use)."""
        wait_for(lambda: " ready." in self.output() or not self.is_running(), timeout=timeout, what="worker ready")
        if not self.is_running():
            raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.output()}")
        return self

    def pool_children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RedisServer:
    """A private redis-server on a free loopback port, persisting to an append-only file, restartable."""

    def __init__(self, directory: Path, *, binary: str = "/usr/bin/redis-server") -> None:
        self.directory = directory
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, database: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=database, socket_connect_timeout=2)

    def start(self) -> RedisServer:
        command = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_for(self._answers, timeout=10, what=f"redis-server on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self, *, graceful: bool = False) -> None:
        """Stop the server: the hard way (SIGKILL; only the append-only file survives), or with SIGTERM (it saves)."""
        if self.process is not None and self.process.poll() is None:
            if graceful:
                self.process.terminate()
            else:
                self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
