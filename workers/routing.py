"""Celery's router (setting `task_routes`): a job's task goes to the queue its job declares."""

from __future__ import annotations

from typing import Any

from siisurit.jobs import job_of_task


def job_route(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any) -> dict[str, str] | None:
    """The queue of the job whose task is `name` (tasks of no job go to the default queue)."""
    job = job_of_task(name)
    return {"queue": job.queue} if job else None
