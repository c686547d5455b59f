"""Domain exceptions shared by services, connectors and the job queue's retry policy."""

from __future__ import annotations


class SiisuritError(Exception):
    """Base of errors a user can understand; the message names the file, tracker or option at fault."""


class PermanentError(SiisuritError):
    """Retrying cannot help (bad token, no access, wrong URL, bad configuration): fail at once."""


class TransientError(SiisuritError):
    """Retrying later may help (connection lost, timeout, HTTP 429/5xx); `retry_after` in seconds if known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineError(PermanentError):
    """The job's time is up (SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS): stopped, not retried; committed pages stay."""


class AlreadyRunningError(SiisuritError):
    """Another job of the same kind already runs on the same project."""

    def __init__(self, message: str, *, holder: str = "") -> None:
        super().__init__(message)
        self.holder = holder
