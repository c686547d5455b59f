"""Test-only jobs of the failure-injection tests (imported by worker processes with `--include`)."""

from __future__ import annotations

import os
import signal
from typing import Any

from siisurit.jobs import Job, job_register
from tests.worker import TEST_KEY_PREFIX, redis_test_client
from workers.job_tasks import job_celery_task


def process_killing_service(*, key: str) -> dict[str, Any]:
    """Counts its starts, then SIGKILLs the process running it: a job that always takes its worker down."""
    redis_test_client().incr(f"{TEST_KEY_PREFIX}{key}:started")
    os.kill(os.getpid(), signal.SIGKILL)
    return {}  # never reached


process_killing = job_celery_task(
    job_register(
        Job("test_process_killing", process_killing_service, "maintenance", "tests.reliability.jobs", "kill process")
    )
)
