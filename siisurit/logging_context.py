"""Ties every log line to the job and project it belongs to."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

_job_id: contextvars.ContextVar[str] = contextvars.ContextVar("job_id", default="-")
_project: contextvars.ContextVar[str] = contextvars.ContextVar("project", default="-")


def current_job_id() -> str:
    """The job id log lines carry now ("" outside a job)."""
    job_id = _job_id.get()
    return "" if job_id == "-" else job_id


@contextmanager
def job_log_context(*, job_id: str | None = None, project: str | None = None) -> Iterator[None]:
    """Within the block, log records carry this job id and project code."""
    tokens = []
    if job_id is not None:
        tokens.append((_job_id, _job_id.set(job_id)))
    if project is not None:
        tokens.append((_project, _project.set(project)))
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def job_log_context_begin(*, job_id: str) -> None:
    """Start a job's log context where no `with` block fits (worker signals before and after a task)."""
    _job_id.set(job_id)
    _project.set("-")


def job_log_context_end() -> None:
    """End what `job_log_context_begin` started: log records carry no job again."""
    _job_id.set("-")
    _project.set("-")


class JobContextFilter(logging.Filter):
    """Adds `job_id` and `project` attributes to every record (`-` outside a job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "job_id"):
            record.job_id = _job_id.get()
        if not hasattr(record, "project"):
            record.project = _project.get()
        return True
