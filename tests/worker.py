"""Real Celery workers for tests, and test-only jobs (registered here, never in production code).

* `celery_worker_thread`: a worker thread in the test process (celery.contrib.testing.worker.start_worker) on the
  real Redis test databases, consuming all queues, shared by the tests of one module. Tests using it get a
  transactional database: the worker reads committed rows through its own connections.
* `SubprocessWorker`: a real `celery -A workers worker` process (for SIGKILL and settings given by environment),
  which imports this module with `--include tests.worker` so it knows the test-only jobs.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.contrib.testing.tasks import ping  # `celery.ping`, which ends a pending read of the worker thread
from celery.contrib.testing.worker import start_worker
from celery.worker import state as worker_state
from django.conf import settings
from django.db import connections

from siisurit.errors import PermanentError, TransientError
from siisurit.jobs import QUEUES, Job, Progress, job_register
from siisurit.worker_process import WorkerProcess
from tests.processes import child_environment, wait_for
from workers.app import app
from workers.job_tasks import job_celery_task

_REPO = Path(__file__).resolve().parent.parent
TEST_KEY_PREFIX = "siisurit-test:"
#: Modules a worker subprocess imports besides the production tasks: the test-only jobs.
TEST_TASK_MODULES = ("tests.worker", "tests.reliability.jobs")
#: Set at the end of a test: every test job still holding finishes (purge_test_state deletes it again).
RELEASE_ALL_KEY = f"{TEST_KEY_PREFIX}release-all"


def redis_test_client() -> redis.Redis:
    """The test broker database (where the test-only jobs keep their counters)."""
    return redis.Redis.from_url(settings.SII_REDIS_URL)


# --- Test-only services and jobs -------------------------------------------------------------------------------


def counting_service(*, key: str, hold_seconds: float = 0.0, progress: Progress | None = None) -> dict[str, Any]:
    """Counts starts and completions under `key`; holds until `release(key)` or `hold_seconds` pass."""
    client = redis_test_client()
    started = client.incr(f"{TEST_KEY_PREFIX}{key}:started")
    client.rpush(f"{TEST_KEY_PREFIX}{key}:started-events", started)
    deadline = time.monotonic() + hold_seconds
    while True:  # hold, telling the progress every round, until released or out of time
        if progress:
            progress(0, 2, "holding" if hold_seconds else "started")
        if time.monotonic() >= deadline or client.blpop([f"{TEST_KEY_PREFIX}{key}:release"], timeout=0.3):
            break
        if client.exists(RELEASE_ALL_KEY):
            break
    if progress:
        progress(1, 2, "halfway")
        progress(2, 2, "done")
    completed = client.incr(f"{TEST_KEY_PREFIX}{key}:completed")
    return {"started": started, "completed": completed}


def wait_until_started(key: str, *, timeout: float = 30) -> None:
    """Block until test job `key` started (an event pushed by the job, no polling)."""
    if not redis_test_client().blpop([f"{TEST_KEY_PREFIX}{key}:started-events"], timeout=timeout):
        raise TimeoutError(f"test job {key} did not start within {timeout} s")


def release(key: str) -> None:
    """Let a holding test job `key` finish."""
    redis_test_client().rpush(f"{TEST_KEY_PREFIX}{key}:release", "go")


def locked_service(*, project_id: str, key: str, hold_seconds: float = 0.0) -> dict[str, Any]:
    return counting_service(key=key, hold_seconds=hold_seconds)


def flaky_service(*, key: str, failures: int) -> dict[str, Any]:
    """Fails transiently `failures` times, then succeeds."""
    attempts = redis_test_client().incr(f"{TEST_KEY_PREFIX}{key}:attempts")
    if attempts <= failures:
        raise TransientError(f"flaky test service: attempt {attempts} failed", retry_after=0.05)
    return {"attempts": attempts}


def permanent_failure_service(*, key: str) -> dict[str, Any]:
    attempts = redis_test_client().incr(f"{TEST_KEY_PREFIX}{key}:attempts")
    raise PermanentError(f"test tracker answered HTTP 401 (attempt {attempts})")


def tracker_failure_service(*, tracker_id: str) -> dict[str, Any]:
    """Touches a tracker with a token, then fails with a message naming the tracker (never the token)."""
    from siisurit.models import Tracker

    tracker = Tracker.objects.get(id=tracker_id)
    raise PermanentError(f"tracker {tracker} ({tracker.api_token!r}) answered HTTP 403")


def sessions_service(*, project_id: str) -> dict[str, Any]:
    """The PostgreSQL sessions of this job: Django's connection and the one holding the job's lock."""
    from django.db import connection

    from siisurit.jobs import running_job_id
    from siisurit.jobs.lock import APPLICATION_NAME_PREFIX

    with connection.cursor() as cursor:
        cursor.execute(
            "select pg_backend_pid(), (select pid from pg_stat_activity where application_name = %s)",
            [f"{APPLICATION_NAME_PREFIX}{running_job_id()}"[:63]],
        )
        django_session, lock_session = cursor.fetchone()
    return {"django": django_session, "lock": lock_session}


# Short backoff so that retry tests take milliseconds; the policy itself is the production one.
_FAST_RETRY = {"retry_backoff": 0.05, "retry_backoff_max": 0.2}


def _test_job(name: str, service: Any, queue: str = "maintenance", **lock: Any) -> Job:
    return job_register(Job(name, service, queue, "tests.worker", name.replace("_", " "), **lock))


counting = job_celery_task(_test_job("test_counting", counting_service))
locked = job_celery_task(_test_job("test_locked", locked_service, lock_kwarg="project_id"))
flaky = job_celery_task(_test_job("test_flaky", flaky_service), **_FAST_RETRY)
permanent = job_celery_task(_test_job("test_permanent", permanent_failure_service), **_FAST_RETRY)
sessions = job_celery_task(_test_job("test_sessions", sessions_service, lock_kwarg="project_id"))
tracker_failure = job_celery_task(
    _test_job("test_tracker_failure", tracker_failure_service, "download", lock_kwarg="tracker_id"), **_FAST_RETRY
)


# --- Queue hygiene ---------------------------------------------------------------------------------------------


def queue_length(queue: str) -> int:
    return redis_test_client().llen(queue)


def purge_test_state() -> None:
    """Empty the queues and drop results, beat claims and test counters in the test Redis database."""
    client = redis_test_client()
    assert os.environ["SII_REDIS_URL"] == settings.SII_REDIS_URL, "settings must use the test Redis database"
    for queue in QUEUES:
        client.delete(queue, *(f"{queue}\x06\x16{step}" for step in (3, 6, 9)))
    for pattern in ("celery-task-meta-*", "siisurit:beat:*", f"{TEST_KEY_PREFIX}*", "unacked*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture
def clean_queues() -> Iterator[None]:
    purge_test_state()
    yield
    purge_test_state()


# --- Workers ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def module_worker_thread(django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    """One worker thread per test module on the real Redis (see `celery_worker_thread`).

    Between tests it consumes only a queue of its own (`worker_thread_queue`), which no job uses.
    """
    hostname = f"test-thread-{uuid.uuid4().hex[:8]}@{os.uname().nodename}"
    with contextlib.ExitStack() as stack:
        with django_db_blocker.unblock():
            worker = stack.enter_context(
                start_worker(
                    app,
                    hostname=hostname,
                    pool="threads",
                    concurrency=4,
                    queues=[worker_thread_queue(hostname)],
                    perform_ping_check=False,
                    shutdown_timeout=30,
                    loglevel="WARNING",
                )
            )
        # start_worker returns before the worker subscribes to control commands, which Redis does not keep for a
        # later subscriber: the first command could be lost, and its reply awaited for the full timeout.
        wait_for(
            lambda: app.control.ping(destination=[worker.hostname], timeout=0.2),
            timeout=30,
            what="the worker thread to answer control commands",
        )
        yield worker
        # What start_worker's exit sets; a message ends the worker's pending read, which it would otherwise wait
        # out (a second) before it stops.
        worker_state.should_terminate = 0
        ping.apply_async(queue=worker_thread_queue(hostname), ignore_result=True)
        with django_db_blocker.unblock():
            stack.close()
    redis_test_client().delete(worker_thread_queue(hostname))
    connections.close_all()


@pytest.fixture
def celery_worker_thread(module_worker_thread: Any, clean_queues: None, transactional_db: None) -> Iterator[Any]:
    """The module's worker thread, idle and with empty queues when the test starts and ends.

    Sharing one worker per module saves starting and stopping one per test. Tests that kill or reconfigure a
    worker use `SubprocessWorker` instead.
    """
    worker_thread_consume(module_worker_thread, consume=True)
    yield module_worker_thread
    worker_thread_consume(module_worker_thread, consume=False)
    worker_thread_settle()


def worker_thread_queue(hostname: str) -> str:
    """The queue only the worker thread `hostname` consumes, also while it takes no jobs."""
    return f"{TEST_KEY_PREFIX}worker-thread-{hostname}"


def worker_thread_consume(worker: Any, *, consume: bool) -> None:
    """Let the module's worker thread consume all queues, or none (between tests it must not take their jobs).

    The worker reads its queues with one blocking Redis command at a time (up to a second), and a change of its
    queues applies to the next read. A ping through the worker's own queue ends the current read, so the change
    holds when this returns: a test's first job is taken at once, and no job after the worker stopped consuming.
    """
    command = app.control.add_consumer if consume else app.control.cancel_consumer
    for queue in QUEUES:
        command(queue, destination=[worker.hostname], reply=True, timeout=10)
    woken = ping.apply_async(queue=worker_thread_queue(worker.hostname))
    woken.get(timeout=10)
    woken.forget()  # `manage.py jobs` lists the test's jobs only


def worker_thread_settle(*, timeout: float = 30) -> None:
    """Release test jobs still holding and wait until the worker thread runs no job (the next test starts clean)."""
    redis_test_client().set(RELEASE_ALL_KEY, "go")
    wait_for(
        lambda: not (worker_state.active_requests or worker_state.reserved_requests),
        timeout=timeout,
        what="the worker thread to finish its jobs",
    )
    connections.close_all()


class SubprocessWorker(WorkerProcess):
    """A `celery -A workers worker` process with the test settings (and extra environment) and the test-only jobs.

    `queues=None` starts it without -Q. As a context manager it is ready (answers a ping) when the block starts.
    """

    def __init__(
        self,
        *,
        queues: tuple[str, ...] | None = QUEUES,
        pool: str = "solo",
        env: dict[str, str] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            name=f"test-{uuid.uuid4().hex[:8]}@{os.uname().nodename}",
            env=child_environment(**(env or {})),
            queues=queues,
            pool=pool,
            include=TEST_TASK_MODULES,
            **options,
        )

    def wait_ready(self, celery_app: Any = app, timeout: float = 60.0) -> SubprocessWorker:
        """Return once the worker answers a ping through `celery_app`'s broker (it then consumes its queues)."""
        self.wait_until(
            lambda: celery_app.control.ping(destination=[self.name], timeout=0.5), timeout=timeout, what="answering"
        )
        return self

    def __enter__(self) -> SubprocessWorker:
        try:
            self.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
