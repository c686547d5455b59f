"""One job per thing at a time: PostgreSQL advisory locks per (job kind, project), on workers and in-process."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from siisurit.errors import AlreadyRunningError
from siisurit.jobs import job_execute, lock
from siisurit.jobs.lock import _connection_kwargs, job_lock, lock_is_held, lock_key
from tests.worker import (
    locked,
    redis_test_client,
    release,
    wait_until_started,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_second_lock_on_the_same_name_fails_fast_naming_the_holder():
    already_running = r"match_project for p1 is already running \(job id job-one\)"
    with job_lock("match_project:p1", job_id="job-one"):
        with pytest.raises(AlreadyRunningError, match=already_running), job_lock("match_project:p1", job_id="two"):
            pass
        with job_lock("match_project:p2", job_id="job-three"):
            pass  # another project is independent
        with job_lock("download_tracker:p1", job_id="job-four"):
            pass  # and so is another kind of job

    assert lock_is_held("match_project:p1") == ""


def test_a_lock_reads_a_value_in_its_round_trip_and_no_lock_reads_nothing():
    reading = ("select %s::text || '/' || %s::text", ["acme", "web"])
    with job_lock("match_project:p1", job_id="job-one", reading=reading) as value:
        assert value == "acme/web"
    with job_lock("match_project:p1", job_id="job-two") as value:
        assert value is None
    with job_lock(None, job_id="job-three", reading=reading) as value:
        assert value is None  # no lock session: the caller reads it itself


def test_lock_is_released_when_the_holding_session_dies():
    holder = psycopg.connect(**_connection_kwargs(), application_name="siisurit job crashed-job")
    holder.execute("select pg_advisory_lock(%s)", (lock_key("update_project:p9"),))
    assert lock_is_held("update_project:p9") == "crashed-job"

    holder.close()  # what the server does when a worker is killed
    # The client returns before the server's session has ended and released its locks: wait for that, bounded.
    deadline = time.monotonic() + 10
    while lock_is_held("update_project:p9") and time.monotonic() < deadline:
        time.sleep(0.01)

    with job_lock("update_project:p9", job_id="next-job"):
        assert lock_is_held("update_project:p9") == "next-job"


def test_two_concurrent_runs_on_one_project_one_runs(celery_worker_thread):
    project_id = str(uuid.uuid4())
    first = locked.apply_async(kwargs={"project_id": project_id, "key": "first", "hold_seconds": 30})
    wait_until_started("first")

    second = locked.apply_async(kwargs={"project_id": project_id, "key": "second"})
    with pytest.raises(AlreadyRunningError, match=f"already running \\(job id {first.id}\\)"):
        second.get(timeout=30)
    release("first")

    assert first.get(timeout=30)["completed"] == 1
    assert second.state == "FAILURE"
    assert redis_test_client().get("siisurit-test:second:started") is None


def test_in_process_run_takes_the_same_lock_as_the_worker(celery_worker_thread):
    project_id = str(uuid.uuid4())
    running = locked.apply_async(kwargs={"project_id": project_id, "key": "queued", "hold_seconds": 30})
    wait_until_started("queued")

    with pytest.raises(AlreadyRunningError, match=running.id):
        job_execute("test_locked", {"project_id": project_id, "key": "sync"}, job_id="sync-job")
    release("queued")

    assert running.get(timeout=30)["completed"] == 1


def test_lock_is_free_again_after_the_job(clean_queues):
    project_id = str(uuid.uuid4())
    job_execute("test_locked", {"project_id": project_id, "key": "one"}, job_id="a")
    job_execute("test_locked", {"project_id": project_id, "key": "two"}, job_id="b")

    assert lock_is_held(f"test_locked:{project_id}") == ""


@pytest.fixture
def kept_lock_sessions():
    """Lock sessions kept between jobs, as in a worker's pool process; closed again after the test."""
    lock._kept_sessions.reuse = True
    yield
    lock._kept_sessions.reuse = False
    session = lock._kept_sessions.take(_connection_kwargs())
    if session is not None:
        session.connection.close()


def _backend_pid_holding(name: str) -> int | None:
    with psycopg.connect(**_connection_kwargs()) as connection:
        row = connection.execute(
            "select pid from pg_stat_activity where application_name = %s", (f"siisurit job {name}",)
        ).fetchone()
    return row[0] if row else None


def test_a_worker_keeps_its_lock_session_for_the_next_job_without_the_lock(kept_lock_sessions):
    with job_lock("match_project:p1", job_id="job-one"):
        first_session = _backend_pid_holding("job-one")
    assert lock_is_held("match_project:p1") == ""

    with job_lock("match_project:p1", job_id="job-two"):
        assert lock_is_held("match_project:p1") == "job-two"
        assert _backend_pid_holding("job-two") == first_session

    with psycopg.connect(**_connection_kwargs()) as connection:
        idle_name = connection.execute(
            "select application_name from pg_stat_activity where pid = %s", (first_session,)
        ).fetchone()[0]
    assert idle_name == lock.IDLE_APPLICATION_NAME


def test_a_kept_lock_session_that_died_is_replaced(kept_lock_sessions):
    with job_lock("update_project:p9", job_id="job-one"):
        first_session = _backend_pid_holding("job-one")
    with psycopg.connect(**_connection_kwargs()) as connection:
        connection.execute("select pg_terminate_backend(%s)", (first_session,))

    with job_lock("update_project:p9", job_id="job-two"):
        assert lock_is_held("update_project:p9") == "job-two"
        assert _backend_pid_holding("job-two") != first_session
