"""Concurrent runs: two updates of one project, two beat processes, jobs past their time limit or visibility timeout."""

from __future__ import annotations

import json
import sys
import time
import uuid

import pytest
from celery.result import AsyncResult

from sandbox import SandboxTrackers
from siisurit.jobs.lock import lock_is_held
from siisurit.models import WorkEntry
from tests.processes import child_environment, wait_for
from tests.reliability.conftest import FAST_RETRIES, log_count, sandbox_project, start_job
from tests.reliability.processes import ChildProcess, Worker
from tests.worker import TEST_KEY_PREFIX, locked, queue_length, redis_test_client, release
from workers.app import app
from workers.dispatch import CeleryJobHandle

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_sandbox():
    with SandboxTrackers(seed=21, task_count=5, entry_count=1500, other_entry_count=0) as trackers:
        trackers.set_latency(300, kind="kimai")
        yield trackers


def results(name: str) -> list[dict]:
    client = redis_test_client()
    metas = [json.loads(client.get(key)) for key in client.scan_iter(match="celery-task-meta-*")]
    return [meta for meta in metas if meta.get("name") == name]


def counter(key: str, what: str) -> int:
    return int(redis_test_client().get(f"{TEST_KEY_PREFIX}{key}:{what}") or 0)


def test_an_update_of_a_project_that_is_already_updating_is_refused_and_nothing_doubles(clean_queues, slow_sandbox):
    project = sandbox_project(slow_sandbox)
    tracker = project.trackers.get()
    with Worker(pool="prefork", concurrency=2, env=FAST_RETRIES) as worker:
        worker.wait_ready(app)
        by_command = start_job("update_project", project_id=str(project.id))
        wait_for(lambda: slow_sandbox.stats["kimai"]["requests"] >= 1, timeout=20, what="first update downloading")
        app.send_task("tasks.update.update_all_projects")  # what beat sends every hour

        outcome = by_command.wait(timeout=45)
        refused = wait_for(
            lambda: [meta for meta in results("tasks.update.update_project") if meta["status"] == "FAILURE"],
            timeout=20,
            what="the second update ended",
        )

        assert outcome.ok, outcome.error
        assert len(refused) == 1
        assert refused[0]["result"]["exc_type"] == "AlreadyRunningError"
        assert "already running" in " ".join(refused[0]["result"]["exc_message"])
        assert by_command.job_id in " ".join(refused[0]["result"]["exc_message"]), "names the running job"
        external_ids = list(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", flat=True))
        assert len(external_ids) == len(set(external_ids)) == 1500
        assert log_count([worker], "downloaded kimai-tracker") == 1
        assert refused[0]["retries"] == 0, "a refused run is not retried"


BEAT_COMMAND = [sys.executable, "-m", "celery", "-A", "tests.reliability.beat_app", "beat", "--loglevel=INFO"]


def test_two_beat_processes_send_each_periodic_job_once_per_period(clean_queues, tmp_path):
    environment = child_environment()
    beats = [
        ChildProcess(
            [*BEAT_COMMAND, "-s", str(tmp_path / f"schedule-{number}")],
            env=environment,
            prefix=f"beat{number}",
        )
        for number in (1, 2)
    ]

    def refusals() -> int:
        return sum(beat.output().count("already sent for this period") for beat in beats)

    def ticking(beat: ChildProcess) -> bool:
        output = beat.output()
        return "Sending due task" in output or "already sent for this period" in output

    try:
        # A loaded machine may start one beat seconds after the other: count only periods in which both tick.
        wait_for(lambda: all(ticking(beat) for beat in beats), timeout=60, what="both beats ticking")
        sent_before, refused_before = queue_length("maintenance"), refusals()
        wait_for(lambda: queue_length("maintenance") >= sent_before + 6, timeout=30, what="six periods of beat")
    finally:
        for beat in beats:
            beat.close()
    client = redis_test_client()

    claims = list(client.scan_iter(match="siisurit:beat:clear-caches:*"))
    sent = queue_length("maintenance")

    assert sent == len(claims), f"{sent} jobs sent for {len(claims)} periods"
    periods = sorted(int(claim.decode().rsplit(":", 1)[1]) for claim in claims)
    assert len(set(periods)) == len(periods)
    # While both tick, one of them stands back in most periods; on a loaded machine a process that stalls for a
    # second or more misses the periods of its stall (each period is one second), so count at least half of them.
    stood_back, periods_seen = refusals() - refused_before, sent - sent_before
    assert stood_back >= 1 and 2 * stood_back >= periods_seen, (
        f"one beat stood back in {stood_back} of {periods_seen} periods while both ticked"
    )


def test_a_job_past_its_time_limit_fails_with_a_clear_reason_and_frees_its_lock(clean_queues):
    project_id, key = str(uuid.uuid4()), "too-long"
    with Worker(pool="prefork", env={**FAST_RETRIES, "SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS": "2"}) as worker:
        worker.wait_ready(app)
        # The sender stamps the time limits into the message (Celery's `timelimit` header), so a deployment sets
        # SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS alike for commands, beat and workers; here: 2 s (+ 30 s grace).
        job_id = locked.apply_async(
            kwargs={"project_id": project_id, "key": key, "hold_seconds": 30}, soft_time_limit=2, time_limit=32
        ).id

        started = time.monotonic()
        outcome = CeleryJobHandle(app, job_id).wait(timeout=25)

        assert outcome.state == "FAILURE", worker.output()[-3000:]
        assert time.monotonic() - started < 15
        assert "TimeLimitExceeded" in outcome.error_type + outcome.error
        assert counter(key, "completed") == 0
        assert lock_is_held(f"test_locked:{project_id}") == ""
        again = start_job("test_locked", project_id=project_id, key=f"{key}-again").wait(timeout=20)
        assert again.ok, "the lock is free for the next run"


@pytest.mark.slow
def test_a_job_running_past_the_visibility_timeout_is_not_run_twice(clean_queues):
    project_id, key = str(uuid.uuid4()), "longer-than-visibility"
    environment = {**FAST_RETRIES, "SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS": "3"}
    with Worker(env=environment) as first, Worker(env=environment) as second:
        first.wait_ready(app)
        second.wait_ready(app)
        handle = start_job("test_locked", project_id=project_id, key=key, hold_seconds=60)
        # Redis hands the held job to the other worker after about 3 s; that delivery cannot take the lock.
        wait_for(
            lambda: "already running" in first.output() + second.output(),
            timeout=30,
            what="Redis redelivering the running job, and the lock refusing it",
        )
        release(key)

        wait_for(lambda: counter(key, "completed") == 1, timeout=30, what="the job completed")
        final = wait_for(
            lambda: AsyncResult(handle.job_id, app=app).state == "SUCCESS", timeout=10, what="final state SUCCESS"
        )

        assert final
        assert counter(key, "started") == 1, "the second delivery must not start the service"
        assert "already running" in first.output() + second.output(), "Redis did redeliver it: the lock refused"


def test_a_retry_after_longer_than_the_visibility_timeout_is_capped_and_runs_once(clean_queues):
    from tests.factories import make_project
    from tests.reliability.conftest import sandbox_tracker

    environment = {**FAST_RETRIES, "SII_JOB_RETRY_BACKOFF_MAX_IN_SECONDS": "600"}
    environment["SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS"] = "8"  # so retries wait at most 4 s
    with SandboxTrackers(seed=23, task_count=5, entry_count=30) as sandbox, Worker(env=environment) as worker:
        tracker = sandbox_tracker(make_project(), sandbox, "kimai")
        worker.wait_ready(app)
        sandbox.inject("kimai", status=429, count=1, retry_after=3600)

        started = time.monotonic()
        outcome = start_job("download_tracker", tracker_id=str(tracker.id)).wait(timeout=30)

        assert outcome.ok, outcome.error
        assert outcome.summary["retries"] == 1
        assert time.monotonic() - started < 15, "the countdown was capped below the visibility timeout"
        assert dict(sandbox.stats["kimai"]["statuses"]).get(429) == 1
        assert log_count([worker], "downloaded kimai-tracker") == 1
