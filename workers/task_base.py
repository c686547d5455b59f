"""The base class of every job task: runs the job's service, publishes progress, retries by workers/retry.py."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Task
from django.conf import settings

from siisurit.jobs import Progress, Summary, job_execute
from workers.deliveries import check_deliveries, delivery_count
from workers.retry import is_retryable, retry_countdown

logger = logging.getLogger(__name__)

PROGRESS_STATE = "PROGRESS"
# Progress goes to Redis at most this often (the last step always), so a fast loop does not flood the backend.
PROGRESS_INTERVAL_SECONDS = 0.25


class JobTask(Task):
    """A task that runs job `job_name` (see siisurit/jobs.py) with the keyword arguments it was sent.

    Retry policy declared here once for all jobs; the summary returned gains `retries`.
    """

    abstract = True
    job_name: str = ""
    max_retries = settings.SII_JOB_MAX_RETRIES
    retry_backoff = settings.SII_JOB_RETRY_BACKOFF_IN_SECONDS
    retry_backoff_max = settings.SII_JOB_RETRY_BACKOFF_MAX_IN_SECONDS
    retry_jitter = True
    # Results are small summaries; a job's arguments are ids only, so they may show in Flower and results.
    ignore_result = False
    typing = True

    def run_job(self, **kwargs: Any) -> Summary:
        retries = self.request.retries
        if not self.request.is_eager:
            deliveries = delivery_count(
                self.backend.client,
                task_id=self.request.id,
                retries=retries,
                expires_in_seconds=settings.SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS
                * (settings.SII_JOB_MAX_DELIVERIES + 1),
            )
            check_deliveries(deliveries, maximum=settings.SII_JOB_MAX_DELIVERIES, job_name=self.job_name)
        try:
            summary = job_execute(self.job_name, kwargs, job_id=self.request.id, progress=self.progress_publisher())
        except Exception as error:
            if not is_retryable(error) or retries >= self.max_retries:
                raise
            retry_after = getattr(error, "retry_after", None)
            countdown = retry_countdown(
                retries=retries, backoff=self.retry_backoff, backoff_max=self.retry_backoff_max, retry_after=retry_after
            )
            logger.warning(
                "%s failed (%s), retry %d of %d in %.1f s",
                self.job_name,
                error,
                retries + 1,
                self.max_retries,
                countdown,
            )
            raise self.retry(exc=error, countdown=countdown) from error
        return {**summary, "retries": retries}

    def progress_publisher(self) -> Progress:
        """A `progress(current, total, what)` callback that stores state PROGRESS for Flower and waiting commands."""
        lock = threading.Lock()
        last_sent = 0.0
        retries = self.request.retries
        # Services call progress from their own threads too, where `self.request` (thread-local) has no id.
        task_id = self.request.id

        def publish(current: int, total: int | None, what: str) -> None:
            nonlocal last_sent
            now = time.monotonic()
            with lock:
                if now - last_sent < PROGRESS_INTERVAL_SECONDS and current != total:
                    return
                last_sent = now
                meta = {"current": current, "total": total, "what": what, "retries": retries}
                self.update_state(task_id=task_id, state=PROGRESS_STATE, meta=meta)

        return publish
