"""Test-only jobs of the failure-injection tests (imported by worker processes with `--include`)."""

from __future__ import annotations

import os
import signal
from typing import Any

from siisurit.jobs import Job, job_register
from tests.worker import TEST_KEY_PREFIX, redis_test_client
from workers.app import app
from workers.task_base import JobTask


def process_killing_service(*, key: str) -> dict[str, Any]:
    """Counts its starts, then SIGKILLs the process running it: a job that always takes its worker down."""
    redis_test_client().incr(f"{TEST_KEY_PREFIX}{key}:started")
    os.kill(os.getpid(), signal.SIGKILL)
    return {}  # never reached


job_register(Job("test_process_killing", "tests.reliability.jobs.process_killing_service", "maintenance"))


@app.task(base=JobTask, bind=True, name="tests.reliability.jobs.process_killing", job_name="test_process_killing")
def process_killing(self: JobTask, *, key: str) -> dict:
    return self.run_job(key=key)
