"""One Celery worker for the demo, as a subprocess with this process's settings (this module imports no Celery)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connections

from siisurit.jobs import QUEUES, JobQueueError, job_runner
from siisurit.worker_process import ChildStartError, WorkerProcess

WORKER_START_TIMEOUT_SECONDS = 60.0
WORKER_STOP_TIMEOUT_SECONDS = 30.0


class DemoWorkerError(Exception):
    """The worker did not start or did not answer in time; the message ends with the tail of its log."""


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


def demo_worker_log_path() -> Path:
    return settings.SII_DATA_DIR / "demo" / "worker.log"


@contextmanager
def demo_worker(
    *, concurrency: int = 4, log_path: Path | None = None, start_timeout: float = WORKER_START_TIMEOUT_SECONDS
) -> Iterator[WorkerProcess]:
    """Run one worker on all queues for the duration of the block; it answers when the block starts."""
    worker = WorkerProcess(
        name=f"demo-{os.getpid()}@{socket.gethostname()}",
        env=worker_environment(),
        concurrency=concurrency,
        log_path=log_path or demo_worker_log_path(),
    )
    try:
        worker.wait_until(_consumes_every_queue, timeout=start_timeout, what="consuming every queue")
        yield worker
    except ChildStartError as error:
        raise DemoWorkerError(str(error)) from None
    finally:
        worker.stop(timeout=WORKER_STOP_TIMEOUT_SECONDS)


def _consumes_every_queue() -> bool:
    """Whether live workers consume every queue (asks them; waits about a second for answers)."""
    try:
        job_runner().check_consumers(set(QUEUES))
    except JobQueueError:
        return False
    return True
