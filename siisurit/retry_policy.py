"""The one retry policy of Siisurit: how long to wait before trying again, for a request and for a job.

Two levels use the same backoff (`backoff_wait`: exponential, full jitter, capped, a server's `Retry-After` as a
minimum) with their own numbers:

* **Request level** (`RequestPolicy`, in the HTTP client of every connector, so in `--sync`,
  `SII_USE_ASYNC_QUEUE=false` and on a worker alike): a transient failure of one request (429, 5xx, a dropped or
  refused connection, a timeout) is retried in place, up to `SII_HTTP_ATTEMPTS` attempts, waiting at most
  `SII_HTTP_RETRY_WAIT_MAX_IN_SECONDS` each time. Short outages cost a few seconds and no page is fetched twice.
* **Job level** (`workers/retry.py`, queued jobs only): once a request's budget is spent the download fails with
  "gave up after N attempts over T", and the job is retried after longer countdowns (`SII_JOB_RETRY_*`), resuming
  from the pages already committed.

They agree: a wait the request level will not do (a `Retry-After` longer than its cap) is handed to the job level
as the error's `retry_after`, which the job countdown honours; the job level never retries an error the request
level calls permanent. See docs/reliability.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


def backoff_wait(
    retries: int, *, backoff: float, wait_max: float, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number `retries + 1`: exponential backoff with full jitter, capped.

    Full jitter (a random value between 0 and `backoff * 2**retries`) spreads clients that failed together. A
    server's `retry_after` is honoured as a minimum; the result never exceeds `wait_max`.
    """
    exponential = min(wait_max, backoff * (2 ** max(0, retries)))
    wait = (rng or random).uniform(0, exponential)
    if retry_after:
        wait = max(wait, retry_after)
    return round(min(wait, wait_max), 3)


@dataclass(frozen=True)
class RequestPolicy:
    """Retries in place of one HTTP request: attempts (the first included), first backoff and the cap of one wait."""

    attempts: int = 6
    backoff: float = 1.0
    wait_max: float = 60.0

    @classmethod
    def from_settings(cls) -> RequestPolicy:
        from django.conf import settings

        return cls(
            attempts=settings.SII_HTTP_ATTEMPTS,
            backoff=settings.SII_HTTP_RETRY_BACKOFF_IN_SECONDS,
            wait_max=settings.SII_HTTP_RETRY_WAIT_MAX_IN_SECONDS,
        )

    def wait(self, retries: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None if the budget is spent (or the server asks too long)."""
        if retries + 1 >= self.attempts or (retry_after is not None and retry_after > self.wait_max):
            return None
        return backoff_wait(retries, backoff=self.backoff, wait_max=self.wait_max, retry_after=retry_after)


#: No retry in place (unit tests of a single failure).
NO_RETRIES = RequestPolicy(attempts=1)


def duration_text(seconds: float, *, tenths: bool = True) -> str:
    """`0.3 s`, `12 s`, `4 min 12 s`, `2 h 14 min`: a duration for messages and tables.

    Below 10 s with a tenth (`tenths`), else whole seconds (rounded, or cut off without `tenths`).
    """
    if tenths and seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds) if tenths else int(seconds)
    if whole >= 3600:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"
