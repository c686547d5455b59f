"""Starting jobs on the queue and waiting for them: the Celery side of `siisurit.jobs.JobRunner`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from celery import Celery, Task, states
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from django.db import transaction

from siisurit.ids import new_id
from siisurit.jobs import JobOutcome, JobQueueError, JobRequest, Progress, job_get
from workers.task_base import PROGRESS_STATE, retry_text

# Seconds to wait for workers to say which queues they consume; every live worker answers within milliseconds.
CONSUMER_CHECK_TIMEOUT_SECONDS = 1.0
WORKER_COMMAND = "celery -A workers worker"


def job_task(app: Celery, job_name: str) -> Task:
    """The task that runs job `job_name`: the one named after its declaration."""
    job = job_get(job_name)  # a clear error for unknown jobs
    try:
        return app.tasks[job.task_name]
    except KeyError:
        message = f"no task {job.task_name} runs job {job_name!r}: {job.task_module} must define it"
        raise JobQueueError(message) from None


def consumed_queues(app: Celery, *, timeout: float = CONSUMER_CHECK_TIMEOUT_SECONDS) -> dict[str, list[str]]:
    """Queues consumed per live worker: {worker name: [queue, ...]}."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return {worker: sorted(queue["name"] for queue in queues) for worker, queues in replies.items()}


def broker_check(app: Celery) -> None:
    """Raise JobQueueError quickly if the broker cannot be reached (instead of Celery's long reconnect loop)."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
    except Exception as error:  # kombu raises several connection error types
        raise JobQueueError(f"cannot reach the job queue's Redis ({type(error).__name__}: {error})") from None


@dataclass
class CeleryJobHandle:
    """A job sent to the queue; `wait` follows its progress and returns its outcome."""

    app: Celery
    job_id: str

    def wait(self, *, timeout: float | None = None, progress: Progress | None = None) -> JobOutcome:
        result = AsyncResult(self.job_id, app=self.app)

        def on_message(meta: dict[str, Any]) -> None:
            if not progress:
                return
            if meta.get("status") == PROGRESS_STATE and isinstance(meta.get("result"), dict):
                info = meta["result"]
                progress(info.get("current", 0), info.get("total"), info.get("what", ""))
            elif meta.get("status") == states.RETRY and isinstance(meta.get("retry"), dict):
                progress(0, None, retry_text(meta["retry"]))

        connection_errors = tuple(self.app.backend.connection_errors)
        try:
            value = result.get(timeout=timeout, propagate=False, on_message=on_message)
        except CeleryTimeoutError:
            return JobOutcome(
                self.job_id,
                "TIMEOUT",
                error=f"job {self.job_id} did not finish within {timeout:g} s; it goes on: see `manage.py jobs`",
                error_type="TimeoutError",
            )
        except (*connection_errors, RuntimeError) as error:
            # Redis went away while waiting: Celery gives up reconnecting with a RuntimeError caused by the
            # connection error. The job itself may go on in its worker; say so instead of a traceback.
            if isinstance(error, RuntimeError) and not isinstance(error.__cause__, connection_errors):
                raise
            return JobOutcome(
                self.job_id,
                "UNKNOWN",
                error=f"lost the connection to the job queue's Redis while waiting for job {self.job_id}; "
                "it may still run: see `manage.py jobs` once Redis is back",
                error_type="ConnectionError",
            )
        if result.state == "SUCCESS":
            return JobOutcome(self.job_id, "SUCCESS", summary=value)
        return JobOutcome(self.job_id, result.state, error=str(value), error_type=type(value).__name__)


class CeleryJobRunner:
    """Sends jobs to the Celery queue (after the current transaction commits, so workers see its rows)."""

    is_async = True

    def __init__(self, app: Celery | None = None) -> None:
        if app is None:
            from workers.app import app
        self.app = app

    def check_consumers(self, queues: set[str]) -> None:
        broker_check(self.app)
        consumed = {queue for worker_queues in consumed_queues(self.app).values() for queue in worker_queues}
        missing = sorted(queues - consumed)
        if missing:
            raise JobQueueError(
                f"no worker consumes queue {', '.join(missing)}; start one with `{WORKER_COMMAND}` "
                "(or run the job in this process with --sync)"
            )

    def start(self, request: JobRequest, *, progress: Progress | None = None) -> CeleryJobHandle:
        task = job_task(self.app, request.job_name)
        job_id = str(new_id())  # a UUIDv7: it tells when the job was enqueued
        transaction.on_commit(partial(task.apply_async, kwargs=request.kwargs, task_id=job_id))
        return CeleryJobHandle(self.app, job_id)
