"""The job level of the retry policy (the request level and the shared backoff: `siisurit/retry_policy.py`).

Retried: `TransientError` (connectors raise it for 429/5xx, timeouts, lost connections; may carry `retry_after`),
requests' connection errors and timeouts, and lost database and Redis (download cache) connections. Never retried:
`PermanentError` (bad token, no access, bad configuration) and `AlreadyRunningError` (another run holds the lock;
retrying would only pile up duplicates). Anything else is a bug: it fails at once with its traceback.
"""

from __future__ import annotations

import random

import django.db
import psycopg
import redis
import requests

from siisurit.errors import AlreadyRunningError, PermanentError, TransientError
from siisurit.retry_policy import backoff_wait

RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    requests.ConnectionError,
    requests.Timeout,
    django.db.OperationalError,
    django.db.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
)
NEVER_RETRIED_ERRORS: tuple[type[BaseException], ...] = (PermanentError, AlreadyRunningError)


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, RETRYABLE_ERRORS) and not isinstance(error, NEVER_RETRIED_ERRORS)


def retry_countdown(
    *,
    retries: int,
    backoff: float,
    backoff_max: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before job retry number `retries + 1`: the backoff of `siisurit.retry_policy`.

    Exponential from `backoff`, full jitter, capped at `backoff_max`. A server's `retry_after` (kept by the request
    level when it was longer than its own cap) is honoured as a minimum, but also capped: the cap stays below the
    Redis visibility timeout, which a longer countdown would exceed and so run the retry twice.
    """
    return backoff_wait(retries, backoff=backoff, wait_max=backoff_max, retry_after=retry_after, rng=rng)
