"""The job registry, and how a job runs: one service call under one lock, with progress and a small summary.

A job is a named service call with ids as arguments. Management commands never talk to Celery: they ask
`job_runner()` for the runner named by `settings.SII_JOB_RUNNER` (Celery's lives in `workers.dispatch`, loaded by
dotted path) or `InProcessJobRunner`, which runs the same `job_execute` in the calling process.
"""

from __future__ import annotations

import contextvars
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from siisurit.jobs.lock import job_lock
from siisurit.logging_context import job_log_context

Progress = Callable[[int, "int | None", str], None]
Summary = dict[str, Any]

QUEUES = ("download", "matching", "maintenance")
_running_job_id: contextvars.ContextVar[str] = contextvars.ContextVar("running_job_id", default="")


def running_job_id() -> str:
    """The id of the job this code runs in ("" outside a job); jobs started from it share the id in logs."""
    return _running_job_id.get()


@dataclass(frozen=True)
class Job:
    """A kind of job: the service it calls, the queue it runs on and what it locks.

    `lock_kwarg` names the argument whose value the lock is per (one run per tracker or project at a time);
    `global_lock` makes the job run once at a time overall.
    """

    name: str
    service: str
    queue: str
    lock_kwarg: str | None = None
    global_lock: bool = False

    def lock_name(self, kwargs: dict[str, Any]) -> str | None:
        if self.lock_kwarg:
            return f"{self.name}:{kwargs[self.lock_kwarg]}"
        return self.name if self.global_lock else None


JOBS: dict[str, Job] = {}


def job_register(job: Job) -> Job:
    """Add (or replace) a job kind; tests register test-only jobs the same way."""
    if job.queue not in QUEUES:
        raise ValueError(f"job {job.name}: queue must be one of {', '.join(QUEUES)}, not {job.queue!r}")
    JOBS[job.name] = job
    return job


def job_get(name: str) -> Job:
    try:
        return JOBS[name]
    except KeyError:
        raise ValueError(f"unknown job {name!r}; known jobs: {', '.join(sorted(JOBS))}") from None


job_register(Job("download_tracker", "siisurit.downloads.service.tracker_download", "download", "tracker_id"))
job_register(Job("update_project", "siisurit.project_update.project_update", "matching", "project_id"))
job_register(Job("update_all_projects", "siisurit.project_update.projects_update_all", "maintenance", global_lock=True))
job_register(Job("match_project", "siisurit.matching.service.project_match", "matching", "project_id"))
job_register(Job("rebuild_reports", "siisurit.reports.service.reports_make", "maintenance", global_lock=True))
job_register(Job("clear_caches", "siisurit.downloads.cache_clearing.caches_clear", "maintenance"))


# --- Running one job -------------------------------------------------------------------------------------------


@cache
def _accepts_progress(service: Callable[..., Any]) -> bool:
    return "progress" in inspect.signature(service).parameters


def job_service(job: Job) -> Callable[..., Summary]:
    """The service function of a job, imported on first use so a missing feature never breaks imports."""
    return import_string(job.service)


def job_execute(name: str, kwargs: dict[str, Any], *, job_id: str, progress: Progress | None = None) -> Summary:
    """Run job `name` in this process under its lock; the summary gains `job` and `duration_seconds`.

    Raises AlreadyRunningError when the same kind of job already runs on the same tracker or project.
    """
    job = job_get(name)
    service = job_service(job)
    call_kwargs = dict(kwargs)
    if progress is not None and _accepts_progress(service):
        call_kwargs["progress"] = progress
    token = _running_job_id.set(job_id)
    try:
        with (
            job_log_context(job_id=job_id, project=job_project_label(kwargs)),
            job_lock(job.lock_name(kwargs), job_id=job_id),
        ):
            started = time.monotonic()
            summary = service(**call_kwargs) or {}
    finally:
        _running_job_id.reset(token)
    return {"job": name, **summary, "duration_seconds": round(time.monotonic() - started, 3)}


def job_project_label(kwargs: dict[str, Any]) -> str | None:
    """`org/project` for log lines of a job on a project or tracker; None if the job is not about one."""
    from siisurit.models import Project, Tracker

    if kwargs.get("project_id"):
        project = Project.objects.filter(id=kwargs["project_id"]).select_related("organization").first()
    elif kwargs.get("tracker_id"):
        tracker = Tracker.objects.filter(id=kwargs["tracker_id"]).select_related("project__organization").first()
        project = tracker.project if tracker else None
    else:
        return None
    return str(project) if project else None


# --- Runners: how a command starts a job and waits for it ------------------------------------------------------


@dataclass(frozen=True)
class JobRequest:
    """What a command asks for: a job, its keyword arguments (ids and flags only) and a label for output."""

    job_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.job_name


@dataclass
class JobOutcome:
    """How a job ended: state SUCCESS with a summary, or FAILURE/REVOKED/TIMEOUT with an error message."""

    job_id: str
    state: str
    summary: Summary | None = None
    error: str = ""
    error_type: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "SUCCESS"


class JobQueueError(Exception):
    """The queue cannot run the job (no worker consumes its queue, broker unreachable); the message says why."""


class JobHandle(Protocol):
    job_id: str

    def wait(self, *, timeout: float | None = None, progress: Progress | None = None) -> JobOutcome: ...


class JobRunner(Protocol):
    is_async: bool

    def check_consumers(self, queues: set[str]) -> None:
        """Raise JobQueueError if no worker consumes one of `queues` (answers within a few seconds)."""

    def start(self, request: JobRequest, *, progress: Progress | None = None) -> JobHandle: ...


@dataclass
class FinishedJob:
    """A handle on a job that already ran in this process."""

    job_id: str
    outcome: JobOutcome

    def wait(self, *, timeout: float | None = None, progress: Progress | None = None) -> JobOutcome:
        return self.outcome


class InProcessJobRunner:
    """Runs jobs in the calling process: same service, same lock, same summary as on the queue."""

    is_async = False

    def check_consumers(self, queues: set[str]) -> None:
        return None

    def start(self, request: JobRequest, *, progress: Progress | None = None) -> JobHandle:
        from siisurit.errors import SiisuritError
        from siisurit.ids import new_id

        job_id = str(new_id())
        try:
            summary = job_execute(request.job_name, request.kwargs, job_id=job_id, progress=progress)
        except SiisuritError as error:
            outcome = JobOutcome(job_id, "FAILURE", error=str(error), error_type=type(error).__name__)
        else:
            outcome = JobOutcome(job_id, "SUCCESS", summary={**summary, "retries": 0})
        return FinishedJob(job_id, outcome)


def job_runner(*, sync: bool = False) -> JobRunner:
    """The runner commands use: in-process for `--sync` or `SII_USE_ASYNC_QUEUE=false`, else the configured one."""
    if sync:
        return InProcessJobRunner()
    return import_string(settings.SII_JOB_RUNNER)()
