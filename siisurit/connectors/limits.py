"""Limits of one download, whatever the tracker does: a deadline, a time budget per request, page count, size.

Read from settings (`SII_*`, documented in README.md "Downloads") by `DownloadLimits.from_settings()`; the deadline
is the job's (`SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS` from the start of the job), so the download threads stop on
time in `--sync` too, and on a worker before Celery's soft time limit would have to interrupt them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class DownloadLimits:
    """`deadline` is a `time.monotonic()` value (None: none); the others apply to every request or listing."""

    request_budget: float = 120.0
    max_pages: int = 10_000
    max_response_bytes: int = 50_000_000
    deadline: float | None = None
    #: The job's time limit in seconds, for messages.
    time_limit: float | None = None

    @classmethod
    def from_settings(cls, *, started: float | None = None) -> DownloadLimits:
        """The configured limits, with the deadline of a job that started at `started` (monotonic; default now)."""
        from django.conf import settings

        time_limit = settings.SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS
        return cls(
            request_budget=settings.SII_HTTP_REQUEST_BUDGET_IN_SECONDS,
            max_pages=settings.SII_DOWNLOAD_MAX_PAGES,
            max_response_bytes=settings.SII_HTTP_MAX_RESPONSE_BYTES,
            deadline=(started if started is not None else time.monotonic()) + time_limit,
            time_limit=time_limit,
        )

    def with_deadline(self, deadline: float | None, time_limit: float | None) -> DownloadLimits:
        return replace(self, deadline=deadline, time_limit=time_limit)

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def request_end(self) -> float:
        """When the request starting now must have its whole answer: its budget, or the deadline if earlier."""
        end = time.monotonic() + self.request_budget
        return end if self.deadline is None else min(end, self.deadline)
