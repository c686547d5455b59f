"""One Celery worker for the demo, as a subprocess with this process's settings (this module imports no Celery)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections

from siisurit.jobs import QUEUES, JobQueueError, job_runner

WORKER_START_TIMEOUT_SECONDS = 60.0
WORKER_STOP_TIMEOUT_SECONDS = 30.0
_LOG_TAIL_LINES = 30


class DemoWorkerError(Exception):
    """The worker did not start or did not answer in time; the message ends with the tail of its log."""


@dataclass
class DemoWorker:
    process: subprocess.Popen
    log_path: Path
    name: str


def worker_command(*, name: str, concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "workers", "worker",
        "-Q", ",".join(QUEUES), "-c", str(concurrency), "-n", name,
        "--without-mingle", "--without-gossip", "--loglevel", "INFO",
    ]  # fmt: skip


def worker_environment() -> dict[str, str]:
    """This process's environment plus the database and Redis it actually uses (embedded, configured or a test's)."""
    database = connections["default"].settings_dict
    environment = dict(os.environ)
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "siisurit.settings"),
            "SII_POSTGRES_HOST": str(database["HOST"]),
            "SII_POSTGRES_PORT": str(database["PORT"]),
            "SII_POSTGRES_USERNAME": str(database["USER"]),
            "SII_POSTGRES_DATABASE": str(database["NAME"]),
            "SII_REDIS_URL": settings.SII_REDIS_URL,
            "SII_REDIS_CACHE_URL": settings.SII_REDIS_CACHE_URL,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if database["PASSWORD"]:
        environment["SII_POSTGRES_PASSWORD"] = str(database["PASSWORD"])
    return environment


def _log_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _failure(message: str, log_path: Path) -> DemoWorkerError:
    tail = _log_tail(log_path)
    return DemoWorkerError(f"{message} (log: {log_path})" + (f"\n{tail}" if tail else ""))


def _await_consumers(worker: DemoWorker, *, timeout: float) -> None:
    """Return once a worker consumes every queue; fail early if ours exits."""
    runner = job_runner()
    deadline = time.monotonic() + timeout
    while True:
        if worker.process.poll() is not None:
            raise _failure(f"the worker exited with code {worker.process.returncode} while starting", worker.log_path)
        try:
            runner.check_consumers(set(QUEUES))  # asks the live workers; waits about a second for answers
            return
        except JobQueueError as error:
            if time.monotonic() > deadline:
                raise _failure(f"the worker did not answer within {timeout:g} s: {error}", worker.log_path) from None


def worker_stop(worker: DemoWorker, *, timeout: float = WORKER_STOP_TIMEOUT_SECONDS) -> int:
    """Warm shutdown (SIGTERM: finish running jobs), killed if it takes longer than `timeout`; the exit code."""
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
    return worker.process.returncode


def demo_worker_log_path() -> Path:
    return settings.SII_DATA_DIR / "demo" / "worker.log"


@contextmanager
def demo_worker(
    *, concurrency: int = 4, log_path: Path | None = None, start_timeout: float = WORKER_START_TIMEOUT_SECONDS
) -> Iterator[DemoWorker]:
    """Run one worker on all queues for the duration of the block; it answers pings when the block starts."""
    log_path = log_path or demo_worker_log_path()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    name = f"demo-{os.getpid()}@{socket.gethostname()}"
    with log_path.open("w", encoding="utf-8") as log:
        # Its own session: Ctrl-C reaches only the demo, which then stops the worker in order.
        process = subprocess.Popen(
            worker_command(name=name, concurrency=concurrency), env=worker_environment(), cwd=settings.BASE_DIR,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    worker = DemoWorker(process=process, log_path=log_path, name=name)
    try:
        _await_consumers(worker, timeout=start_timeout)
        yield worker
    finally:
        worker_stop(worker)
