"""The Celery face of the jobs: one task per declared job (siisurit/jobs/catalog.py), named, routed and typed after
its declaration, so that tasks, routes and queues cannot disagree with the jobs."""

from __future__ import annotations

import inspect
from typing import Any

from siisurit.jobs import Job, Summary
from workers.app import app
from workers.task_base import JobTask


def job_celery_task(job: Job, **options: Any) -> JobTask:
    """The task `job.task_name` running `job` (its keyword arguments are the service's, without `progress`).

    `options` are Celery task options (tests shorten the retry backoff with them).
    """

    def run(self: JobTask, **kwargs: Any) -> Summary:
        return self.run_job(**kwargs)

    service_parameters = [
        parameter for name, parameter in inspect.signature(job.service).parameters.items() if name != "progress"
    ]
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    # Celery checks the arguments a task is sent against this signature (`typing`), before the job is queued.
    run.__signature__ = inspect.Signature([self_parameter, *service_parameters])  # type: ignore[attr-defined]
    run.__name__ = run.__qualname__ = job.name
    run.__module__ = job.task_module
    run.__doc__ = job.service.__doc__
    return app.task(base=JobTask, bind=True, name=job.task_name, job_name=job.name, **options)(run)
