"""Counting deliveries of a job, so that a job which kills its worker every time is not redelivered forever.

With late acknowledgement and re-queue on a lost worker, a job whose process dies (OOM killer, SIGKILL, segfault)
goes back to the queue. A job that dies every time would loop: each delivery of one attempt (task id and retry
number) is counted in Redis, and past the limit the job fails for good instead of running again.
"""

from __future__ import annotations

from typing import Any

from siisurit.errors import PermanentError

KEY_PREFIX = "siisurit:deliveries"


def delivery_count_expiry_seconds() -> int:
    """How long a delivery counter lives: past every redelivery of the attempt (one per visibility timeout)."""
    from django.conf import settings

    return settings.SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS * (settings.SII_JOB_MAX_DELIVERIES + 1)


def delivery_key(*, task_id: str, retries: int) -> str:
    """The counter of the deliveries of one attempt (task id and retry number) of a job."""
    return f"{KEY_PREFIX}:{task_id}:{retries}"


def delivery_count(client: Any, *, task_id: str, retries: int, expires_in_seconds: int) -> int:
    """Count one more delivery of this attempt of the job and return how many there were.

    A job's STARTED write counts it in the same round trip (workers/result_backend.py); this is for the rest.
    """
    key = delivery_key(task_id=task_id, retries=retries)
    pipeline = client.pipeline()
    pipeline.incr(key)
    pipeline.expire(key, expires_in_seconds)
    count, _ = pipeline.execute()
    return int(count)


def check_deliveries(count: int, *, maximum: int, job_name: str) -> None:
    """Refuse a job delivered more often than `maximum` times: its worker died each time."""
    if count > maximum:
        raise PermanentError(
            f"{job_name} was delivered {count} times without finishing: its worker process died each time "
            f"(out of memory or killed?); not running it again (SII_JOB_MAX_DELIVERIES={maximum})"
        )
