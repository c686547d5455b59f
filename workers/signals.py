"""Worker signal handlers: every log line a job writes carries its job id (and project, set by the job itself), and
a worker process keeps its database connection and lock session from one job to the next."""

from __future__ import annotations

import threading
from typing import Any

from celery import Task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections, connections

from siisurit.jobs.lock import lock_sessions_reuse
from siisurit.logging_context import job_log_context_begin, job_log_context_end


# Plain set/clear rather than context-variable tokens: a token must be reset in the context that made it, which
# the two signals of one task do not guarantee.
@task_prerun.connect
def enter_job_log_context(task_id: str, **_: Any) -> None:
    job_log_context_begin(job_id=task_id)


@task_postrun.connect
def leave_job_log_context(task_id: str, **_: Any) -> None:
    job_log_context_end()


@task_prerun.connect
@task_postrun.connect
def tidy_database_connections(sender: Task, **_: Any) -> None:
    """Before and after a job, close the database connections Django would close after a request (older than
    CONN_MAX_AGE, broken, left in a transaction) and keep the others, and the lock session (siisurit/jobs/lock.py).

    Celery's Django fix-up closes every connection around every task whatever CONN_MAX_AGE says, unless
    CELERY_DB_REUSE_MAX is set (workers/settings.py sets it). A new PostgreSQL session per job cost the server
    more CPU than the job's own queries of an unchanged tracker (a process, its catalog caches, the temporary
    tables of a download; bench/download.py fan-out). Jobs run in the main thread of a pool process (prefork,
    solo); a job in a thread of its own (the threads pool of the tests) closes them as Celery did and keeps no
    lock session, since nothing closes a thread's connections when the pool ends. Eager runs are left alone: they
    are in the caller's transaction.
    """
    if sender.request.is_eager:
        return
    if threading.current_thread() is threading.main_thread():
        close_old_connections()
        lock_sessions_reuse()
    else:
        connections.close_all()
