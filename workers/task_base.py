"""The base class of every job task: runs the job's service, publishes progress, retries by workers/retry.py."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from siisurit.errors import TransientError
from siisurit.ids import new_id, uuid7_seconds
from siisurit.jobs import Progress, Summary, job_execute
from siisurit.jobs.subject import job_kwargs_repr
from siisurit.retry_policy import duration_text
from workers.deliveries import check_deliveries, delivery_count, delivery_count_expiry_seconds
from workers.retry import is_retryable, retry_countdown

logger = logging.getLogger(__name__)

PROGRESS_STATE = "PROGRESS"
#: A custom task event: Flower shows its `result` (the progress text) and its state (PROGRESS) on the task's row.
PROGRESS_EVENT = "task-progress"
# Progress goes to Redis at most this often (a last step, current == total, always), the first time one interval
# after the job started, so a fast loop does not flood the backend and a short job (most downloads of a fan-out)
# tells nothing but its end, which its result tells: each step is a state write, a Flower event and a message to
# every waiting command.
PROGRESS_INTERVAL_SECONDS = 1.0


class JobTask(Task):
    """A task that runs job `job_name` (see siisurit/jobs.py) with the keyword arguments it was sent.

    Retry policy declared here once for all jobs; the summary returned gains `retries`, `attempts` and
    `since_enqueued_seconds` (over all attempts, where `duration_seconds` is the last attempt's).
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

    def apply_async(self, args: Any = None, kwargs: Any = None, task_id: str | None = None, **options: Any) -> Any:
        """Send the job with a UUIDv7 id (it tells when the job was enqueued) and its subject by codes for Flower."""
        if kwargs is not None and "kwargsrepr" not in options:
            options["kwargsrepr"] = job_kwargs_repr(kwargs)
        return super().apply_async(args, kwargs, task_id=task_id or str(new_id()), **options)

    def run_job(self, **kwargs: Any) -> Summary:
        retries = self.request.retries
        if not self.request.is_eager:
            # Counted by the STARTED write (workers/result_backend.py); here only if no such write counted it.
            deliveries = getattr(self.request, "deliveries", None)
            if deliveries is None:
                deliveries = delivery_count(
                    self.backend.client,
                    task_id=self.request.id,
                    retries=retries,
                    expires_in_seconds=delivery_count_expiry_seconds(),
                )
            check_deliveries(deliveries, maximum=settings.SII_JOB_MAX_DELIVERIES, job_name=self.job_name)
        try:
            summary = job_execute(self.job_name, kwargs, job_id=self.request.id, progress=self.progress_publisher())
        except Exception as error:
            if isinstance(error, TransientError) and retries and retries >= self.max_retries:
                raise self.given_up(error, attempts=retries + 1) from None
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
            retry = {
                "attempt": retries + 2,
                "attempts": self.max_retries + 1,
                "next_at": round(time.time() + countdown, 3),
                "error": f"{type(error).__name__}: {error}",
            }
            # The result backend stores it with the RETRY state (workers/result_backend.py): `manage.py jobs` and
            # waiting commands show it; Flower shows it as the task's result until the next attempt reports.
            self.request.retry_info = retry
            if not self.request.is_eager:
                self.send_progress_event(self.request.id, self.request.hostname, retry_text(retry))
            raise self.retry(exc=error, countdown=countdown) from error
        enqueued = uuid7_seconds(self.request.id)
        since_enqueued = round(time.time() - enqueued, 3) if enqueued else None
        return {**summary, "retries": retries, "attempts": retries + 1, "since_enqueued_seconds": since_enqueued}

    def given_up(self, error: TransientError, *, attempts: int) -> TransientError:
        """The last attempt's error, saying also how often and how long the job tried (since it was enqueued)."""
        enqueued = uuid7_seconds(self.request.id)
        over = f" over {duration_text(time.time() - enqueued)}" if enqueued else ""
        message = f"{error}; the job gave up after {attempts} attempts{over}"
        return TransientError(message, retry_after=error.retry_after)

    def progress_publisher(self) -> Progress:
        """A `progress(current, total, what)` callback that stores state PROGRESS for Flower and waiting commands.

        Like a lost event, a progress step that cannot be stored only costs the display a step: it never fails the
        job (a job running through a Redis restart goes on: docs/reliability.md)."""
        lock = threading.Lock()
        # The job's STARTED state says it runs; steps follow one interval later, even a last one: a job done by then
        # tells its end by its result.
        last_sent = time.monotonic()
        first_due = last_sent + PROGRESS_INTERVAL_SECONDS
        retries = self.request.retries
        # Services call progress from their own threads too, where `self.request` (thread-local) has no id.
        task_id = self.request.id
        hostname = None if self.request.is_eager else self.request.hostname

        def publish(current: int, total: int | None, what: str) -> None:
            nonlocal last_sent
            now = time.monotonic()
            with lock:
                if now < first_due or (now - last_sent < PROGRESS_INTERVAL_SECONDS and current != total):
                    return
                last_sent = now
                meta = {"current": current, "total": total, "what": what, "retries": retries}
                try:
                    self.update_state(task_id=task_id, state=PROGRESS_STATE, meta=meta)
                except SoftTimeLimitExceeded:
                    raise
                except Exception as error:  # Redis away longer than the backend retries: the job goes on
                    logger.warning("could not store the progress of job %s: %s", task_id, error)
                    return
                self.send_progress_event(task_id, hostname, progress_text(current, total, what))

        return publish

    def send_progress_event(self, task_id: str, hostname: str | None, text: str) -> None:
        """Tell Flower (task events) how far the job is; eager runs (no `hostname`) and workers without task events
        send nothing. A lost event only costs Flower a step: it never fails the job."""
        if hostname is None or not self.app.conf.worker_send_task_events:
            return
        try:
            with self.app.events.default_dispatcher(hostname=hostname) as dispatcher:
                dispatcher.send(PROGRESS_EVENT, uuid=task_id, result=text)
        except Exception as error:  # kombu raises several connection error types
            logger.warning("could not send the progress of job %s to Flower: %s", task_id, error)


def progress_text(current: int, total: int | None, what: str) -> str:
    """`3100/6813 mobile-clockodo: page 63`, or `3100 …` while the total is unknown."""
    return f"{current}{f'/{total}' if total is not None else ''} {what}".strip()


def retry_text(retry: dict[str, Any], *, now: float | None = None) -> str:
    """`retrying (attempt 2 of 6, next in 40 s): <error>` for the retry info a retrying job stores."""
    seconds = max(0.0, retry["next_at"] - (time.time() if now is None else now))
    return f"retrying (attempt {retry['attempt']} of {retry['attempts']}, next in {seconds:.0f} s): {retry['error']}"
