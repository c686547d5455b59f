"""Workers killed mid-job: SIGKILL of a pool child or of the main process, and a job that kills its worker."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from sandbox import SandboxTrackers
from tests.processes import wait_for
from tests.reliability.conftest import FAST_RETRIES, sandbox_project, start_job
from tests.reliability.processes import Worker
from tests.reliability.slow_download import (
    assert_downloaded_exactly_once,
    slow_kimai_sandbox,
    worker_that_received_the_job,
)
from tests.worker import TEST_KEY_PREFIX, redis_test_client
from workers.app import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT = 8  # longer than the download's second run, or Redis would hand that one on too
MAX_DELIVERIES = 2


@pytest.fixture
def slow_sandbox() -> Iterator[SandboxTrackers]:
    with slow_kimai_sandbox() as sandbox:
        yield sandbox


def test_sigkill_of_the_pool_child_redelivers_the_job_which_completes_once(clean_queues, slow_sandbox):
    tracker = sandbox_project(slow_sandbox).trackers.get()
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
