"""Processes for failure-injection tests: Celery workers (siisurit/worker_process.py with the test settings by
environment, see tests/worker.py), beat and Flower (`ChildProcess`), and a private Redis server."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import psutil
import redis

from siisurit.jobs import QUEUES
from siisurit.worker_process import ChildProcess
from tests.processes import free_port, wait_for
from tests.worker import SubprocessWorker

__all__ = ["ChildProcess", "RedisServer", "Worker"]


class Worker(SubprocessWorker):
    """A test worker that a test waits for itself: `wait_ready(app)` (by ping), or `wait_ready_by_log()` for
    workers on a broker the test's app does not use."""

    def __init__(self, *, pool: str = "solo", concurrency: int = 1, queues: str = ",".join(QUEUES), **options: Any):
        super().__init__(pool=pool, concurrency=concurrency, queues=tuple(queues.split(",")), **options)

    def wait_ready_by_log(self, timeout: float = 60.0) -> Worker:
        """Return once the worker logs that it is ready."""
        self.wait_until(lambda: " ready." in self.output(), timeout=timeout, what="ready")
        return self

    def pool_children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def __enter__(self) -> Worker:
        return self


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
