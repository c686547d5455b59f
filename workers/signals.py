"""Worker signal handlers: every log line a job writes carries its job id (and project, set by the job itself)."""

from __future__ import annotations

from typing import Any

from celery.signals import task_postrun, task_prerun

from siisurit.logging_context import job_log_context_begin, job_log_context_end


# Plain set/clear rather than context-variable tokens: a token must be reset in the context that made it, which
# the two signals of one task do not guarantee.
@task_prerun.connect
def enter_job_log_context(task_id: str, **_: Any) -> None:
    job_log_context_begin(job_id=task_id)


@task_postrun.connect
def leave_job_log_context(task_id: str, **_: Any) -> None:
    job_log_context_end()
