"""The job layer: what a job is, how one runs (one service call under its lock, with progress and a summary), and
how commands start jobs and wait for them.

A job is a named service call with ids as arguments, declared once in `siisurit/jobs/catalog.py` (loaded when
Django starts, see `siisurit/apps.py`); its Celery task, queue route and the queue list are derived from that
declaration (`tasks/`, `workers/job_tasks.py`). Management commands never talk to Celery: they ask `job_runner()`
for the runner named by `settings.SII_JOB_RUNNER` (Celery's lives in `workers.dispatch`, loaded by dotted path) or
`InProcessJobRunner`, which runs the same `job_execute` in the calling process.
"""

from __future__ import annotations

import contextvars
import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from siisurit.jobs.lock import job_lock
from siisurit.jobs.summary import summary_compact
from siisurit.logging_context import current_job_id, job_log_context

#: `progress(current, total, what)`: how a service tells how far it got (total None while unknown).
Progress = Callable[[int, "int | None", str], None]
Summary = dict[str, Any]

#: The queues, in the order workers list them: `download` is I/O bound (many slots), `matching` is database bound
#: (few slots; project updates run there too, which bounds how many projects update at once), `maintenance` holds
#: report rebuilds and housekeeping jobs. A worker started without `-Q` consumes all of them.
QUEUES = ("download", "matching", "maintenance")
DEFAULT_QUEUE = "maintenance"


_job_started: contextvars.ContextVar[float | None] = contextvars.ContextVar("job_started", default=None)


def job_started_at() -> float | None:
    """When (`time.monotonic()`) the outermost job this code runs in started; its deadline counts from there."""
    return _job_started.get()


def running_job_id() -> str:
    """The id of the job this code runs in ("" outside a job); jobs started from it share the id in logs."""
    return current_job_id()


def lock_name(job_name: str, target: object = None) -> str:
    """The lock a job takes: `<job name>:<target>` (one run per tracker or project), or the job name (one overall)."""
    return f"{job_name}:{target}" if target is not None else job_name


@dataclass(frozen=True)
class Job:
    """A kind of job, declared once: the service it calls, the queue it runs on, what it locks, and its task.

    `lock_kwarg` names the argument whose value the lock is per (one run per tracker or project at a time);
    `global_lock` makes the job run once at a time overall. The Celery task is `<task_module>.<name>`.
    """

    name: str
    service: Callable[..., Summary | None]
    queue: str
    task_module: str
    display_name: str
    lock_kwarg: str | None = None
    global_lock: bool = False

    @property
    def task_name(self) -> str:
        return f"{self.task_module}.{self.name}"

    def lock_name(self, kwargs: dict[str, Any]) -> str | None:
        if self.lock_kwarg:
            return lock_name(self.name, kwargs[self.lock_kwarg])
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


def job_of_task(task_name: str) -> Job | None:
    """The job whose Celery task is named `task_name`, if any."""
    return next((job for job in JOBS.values() if job.task_name == task_name), None)


def task_modules() -> tuple[str, ...]:
    """The modules holding the jobs' Celery tasks (Celery's `imports`)."""
    return tuple(dict.fromkeys(job.task_module for job in JOBS.values()))


# --- Running one job -------------------------------------------------------------------------------------------


@contextmanager
def job_context(lock: str | None, *, job_id: str, project_of: dict[str, Any] | None = None) -> Iterator[None]:
    """Within the block: the lock `lock` is held (or AlreadyRunningError raised) and log lines carry the job id
    and, with `project_of` (a job's arguments), the `org/project` of the tracker or project they name, read with the
    lock. Jobs and the steps a job runs itself (the downloads of a project update) use it alike."""
    from siisurit.jobs.subject import job_project_code, job_project_code_query

    reading = job_project_code_query(project_of) if project_of else None
    with job_log_context(job_id=job_id), job_lock(lock, job_id=job_id, reading=reading) as project:
        if reading is not None and project is None:  # no lock, or rows the lock's session cannot see (uncommitted)
            project = job_project_code(project_of)
        with job_log_context(project=project):
            yield


@cache
def _accepts_progress(service: Callable[..., Any]) -> bool:
    return "progress" in inspect.signature(service).parameters


def job_execute(name: str, kwargs: dict[str, Any], *, job_id: str, progress: Progress | None = None) -> Summary:
    """Run job `name` in this process under its lock; the summary gains `job` and `duration_seconds`.

    Raises AlreadyRunningError when the same kind of job already runs on the same tracker or project.
    """
    job = job_get(name)
    call_kwargs = dict(kwargs)
    if progress is not None and _accepts_progress(job.service):
        call_kwargs["progress"] = progress
    started = time.monotonic()
    token = _job_started.set(started) if _job_started.get() is None else None
    try:
        with job_context(job.lock_name(kwargs), job_id=job_id, project_of=kwargs):
            summary = job.service(**call_kwargs) or {}
    finally:
        if token is not None:
            _job_started.reset(token)
    return summary_compact({"job": name, **summary, "duration_seconds": round(time.monotonic() - started, 3)})


# --- Runners: how a command starts a job and waits for it ------------------------------------------------------


@dataclass(frozen=True)
class JobRequest:
    """What a command asks for: a job, its keyword arguments (ids and flags only) and a label for output."""

    job_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or job_get(self.job_name).display_name


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
