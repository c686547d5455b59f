"""Worker signal handlers: every log line a job writes carries its job id (and project, set by the job itself)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from celery.signals import task_postrun, task_prerun

from siisurit.logging_context import job_log_context

_contexts: dict[str, AbstractContextManager[None]] = {}


@task_prerun.connect
def enter_job_log_context(task_id: str, **_: Any) -> None:
    context = job_log_context(job_id=task_id)
    context.__enter__()
    _contexts[task_id] = context


@task_postrun.connect
def leave_job_log_context(task_id: str, **_: Any) -> None:
    context = _contexts.pop(task_id, None)
    if context is not None:
        context.__exit__(None, None, None)
