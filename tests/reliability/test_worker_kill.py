"""Workers killed mid-job (SIGKILL of a pool child or of the main process) and stopped warmly (SIGTERM)."""

from __future__ import annotations

import signal
import time

import pytest
from celery.result import AsyncResult

from siisurit.models import WorkEntry
from tests.processes import wait_for
from tests.reliability.conftest import FAST_RETRIES, log_count, sandbox_project, start_job
from tests.reliability.processes import Worker
from tests.worker import TEST_KEY_PREFIX, redis_test_client
from workers.app import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ENTRY_COUNT = 2600  # 6 pages of 500 in Kimai
PAGE_SIZE = 500
VISIBILITY_TIMEOUT = 8  # longer than the download's second run, or Redis would hand that one on too
MAX_DELIVERIES = 2


@pytest.fixture
def slow_sandbox():
    from sandbox import SandboxTrackers

    with SandboxTrackers(seed=7, task_count=5, entry_count=ENTRY_COUNT, other_entry_count=0) as trackers:
        trackers.set_latency(400, kind="kimai")
        yield trackers


def assert_downloaded_exactly_once(tracker, sandbox, workers) -> None:
    external_ids = list(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", flat=True))
    assert len(external_ids) == len(sandbox.entry_ids("kimai")) == ENTRY_COUNT
    assert len(set(external_ids)) == len(external_ids), "duplicate work entries"
    assert log_count(workers, "downloaded kimai-tracker") == 1, "the download completed more than once"


def worker_that_received_the_job(*workers: Worker) -> Worker | None:
    """The first of `workers` that logged receiving a job, or None."""
    return next((worker for worker in workers if " received" in worker.output()), None)


def test_sigkill_of_the_pool_child_redelivers_the_job_which_completes_once(clean_queues, slow_sandbox):
    project = sandbox_project(slow_sandbox)
    tracker = project.trackers.get()
    with Worker(pool="prefork", concurrency=1, env=FAST_RETRIES) as worker:
        worker.wait_ready(app)
        handle = start_job("download_tracker", tracker_id=str(tracker.id))
        wait_for(lambda: slow_sandbox.stats["kimai"]["requests"] >= 2, timeout=20, what="download half way")
        (child,) = worker.pool_children()
        child.send_signal(signal.SIGKILL)  # what the OOM killer does to a job's process
        slow_sandbox.set_latency(0, kind="kimai")  # the download's second run need not be slow

        outcome = handle.wait(timeout=45)

        assert outcome.ok, worker.output()
        assert "WorkerLostError" in worker.output() or "exited prematurely" in worker.output()
        assert_downloaded_exactly_once(tracker, slow_sandbox, [worker])


@pytest.mark.slow
def test_sigkill_of_the_worker_redelivers_the_job_after_the_visibility_timeout(clean_queues, slow_sandbox):
    tracker = sandbox_project(slow_sandbox).trackers.get()
    environment = {**FAST_RETRIES, "SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS": str(VISIBILITY_TIMEOUT)}
    with Worker(env=environment) as one, Worker(env=environment) as other:
        # The other worker is up all along, so a job handed back early (not after the visibility timeout) would be
        # seen at once, not hidden behind a worker's start.
        one.wait_ready(app)
        other.wait_ready(app)
        sent_at = time.monotonic()
        handle = start_job("download_tracker", tracker_id=str(tracker.id))
        first = wait_for(lambda: worker_that_received_the_job(one, other), timeout=30, what="a worker took the job")
        second = other if first is one else one
        wait_for(lambda: slow_sandbox.stats["kimai"]["requests"] >= 2, timeout=20, what="download half way")
        first.kill()  # the whole worker, main process included: nobody acknowledges or re-queues the job
        slow_sandbox.set_latency(0, kind="kimai")  # the download's second run need not be slow

        wait_for(lambda: " received" in second.output(), timeout=60, what="the job redelivered")
        redelivered_after = time.monotonic() - sent_at
        outcome = handle.wait(timeout=60)

        assert outcome.ok, second.output()
        # Redis hands the job on once it was unacknowledged this long since its delivery, which followed the send.
        assert redelivered_after >= VISIBILITY_TIMEOUT, f"redelivered after {redelivered_after:.1f} s"
        assert_downloaded_exactly_once(tracker, slow_sandbox, [first, second])


def test_a_job_that_always_kills_its_worker_is_not_redelivered_forever(clean_queues):
    key = "process-killing"
    starts = f"{TEST_KEY_PREFIX}{key}:started"
    # Each delivery costs seconds (the pool notices its lost process late): the fewest that still show a redelivery.
    environment = {**FAST_RETRIES, "SII_JOB_MAX_DELIVERIES": str(MAX_DELIVERIES)}
    with Worker(pool="prefork", concurrency=1, env=environment) as worker:
        worker.wait_ready(app)
        handle = start_job("test_process_killing", key=key)

        outcome = handle.wait(timeout=30)
        # Would it start again? Not once its message is neither queued nor delivered and unacknowledged.
        client = redis_test_client()
        wait_for(
            lambda: client.llen("maintenance") == 0 and client.hlen("unacked") == 0, timeout=30, what="message gone"
        )

        started = int(client.get(starts) or 0)
        assert not outcome.ok
        assert started == MAX_DELIVERIES, f"started {started} times"
        assert int(client.get(starts) or 0) == started


def test_sigterm_finishes_the_running_job_and_no_half_written_page_is_ever_visible(clean_queues, slow_sandbox):
    project = sandbox_project(slow_sandbox)
    tracker = project.trackers.get()
    with Worker(env=FAST_RETRIES) as worker:
        worker.wait_ready(app)
        handle = start_job("download_tracker", tracker_id=str(tracker.id))
        wait_for(lambda: slow_sandbox.stats["kimai"]["requests"] >= 2, timeout=20, what="download half way")
        worker.signal(signal.SIGTERM)  # warm shutdown: finish the running job, take no new one
        seen_counts = set()
        while worker.is_running():
            seen_counts.add(WorkEntry.objects.filter(tracker=tracker).count())
            time.sleep(0.05)

        assert worker.process.returncode == 0, worker.output()
        assert AsyncResult(handle.job_id, app=app).state == "SUCCESS"
        assert handle.wait(timeout=5).ok
        assert all(count % PAGE_SIZE == 0 or count == ENTRY_COUNT for count in seen_counts), seen_counts
        assert_downloaded_exactly_once(tracker, slow_sandbox, [worker])


SOFT_SHUTDOWN = {"REMAP_SIGTERM": "SIGQUIT", "SII_WORKER_SOFT_SHUTDOWN_IN_SECONDS": "2"}


def test_sigterm_with_soft_shutdown_hands_a_long_job_to_another_worker_within_seconds(clean_queues):
    from sandbox import SandboxTrackers

    with SandboxTrackers(seed=7, task_count=5, entry_count=ENTRY_COUNT, other_entry_count=0) as sandbox:
        sandbox.set_latency(2500, kind="kimai")  # 6 pages: about 15 s, far longer than the soft shutdown
        tracker = sandbox_project(sandbox).trackers.get()
        environment = {**FAST_RETRIES, **SOFT_SHUTDOWN}
        with (
            Worker(pool="prefork", concurrency=1, env=environment) as one,
            Worker(pool="prefork", concurrency=1, env=environment) as other,
        ):
            # Both are up before the job starts (a loaded machine may take longer to start a worker than a download
            # takes); whichever takes the job is stopped, and the other must take it over.
            one.wait_ready(app)
            other.wait_ready(app)
            handle = start_job("download_tracker", tracker_id=str(tracker.id))
            first = wait_for(lambda: worker_that_received_the_job(one, other), timeout=30, what="a worker took the job")
            second = other if first is one else one
            wait_for(lambda: sandbox.stats["kimai"]["requests"] >= 1, timeout=30, what="a page downloaded")
            first.signal(signal.SIGTERM)  # what `docker stop` sends
            stopped_at = time.monotonic()

            wait_for(lambda: " received" in second.output(), timeout=20, what="the job handed on")
            handed_on_after = time.monotonic() - stopped_at
            sandbox.set_latency(0, kind="kimai")  # the download's second run need not be slow
            wait_for(lambda: "downloaded kimai-tracker" in second.output(), timeout=90, what="download done")
            first.process.wait(timeout=30)

            assert handed_on_after < 10, f"handed on after {handed_on_after:.1f} s"
            assert "Initiating Soft Shutdown, terminating in 2.0 seconds" in first.output()
            assert "downloaded kimai-tracker" not in first.output(), "the stopped worker did not finish the job"
            wait_for(lambda: AsyncResult(handle.job_id, app=app).state == "SUCCESS", timeout=10, what="SUCCESS")
            assert_downloaded_exactly_once(tracker, sandbox, [first, second])
            print(f"soft shutdown: the job was handed on after {handed_on_after:.1f} s")
