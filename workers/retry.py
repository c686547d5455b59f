"""The retry policy of all jobs, in one place: which errors are retried, and how long to wait before a retry.

Retried: `TransientError` (connectors raise it for 429/5xx, timeouts, lost connections; may carry `retry_after`),
requests' connection errors and timeouts, and lost database connections. Never retried: `PermanentError` (bad
token, no access, bad configuration) and `AlreadyRunningError` (another run holds the lock; retrying would only
pile up duplicates). Anything else is a bug: it fails at once with its traceback.
"""

from __future__ import annotations

import random

import django.db
import psycopg
import requests

from siisurit.errors import AlreadyRunningError, PermanentError, TransientError

RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    requests.ConnectionError,
    requests.Timeout,
    django.db.OperationalError,
    django.db.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
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
    """Seconds to wait before retry number `retries + 1`.

    Exponential backoff (backoff, 2x, 4x, ...) with "equal jitter" (a random value in the upper half, so that
    jobs failing together do not retry together), capped at `backoff_max`. A server's `retry_after` (HTTP 429
    Retry-After) is honoured as a minimum, but also capped: the cap stays below the Redis visibility timeout,
    which a longer countdown would exceed and so run the retry twice.
    """
    exponential = min(backoff_max, backoff * (2 ** max(0, retries)))
    countdown = (rng or random).uniform(exponential / 2, exponential)
    if retry_after:
        countdown = max(countdown, retry_after)
    return round(min(countdown, backoff_max), 3)
