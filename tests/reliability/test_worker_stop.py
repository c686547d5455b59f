"""Workers stopped mid-job: SIGTERM finishes the running job (warm shutdown), or hands it on (soft shutdown)."""

from __future__ import annotations

import signal
import time

import pytest
from celery.result import AsyncResult

from siisurit.models import WorkEntry
from tests.processes import wait_for
from tests.reliability.conftest import FAST_RETRIES, sandbox_project, start_job
from tests.reliability.processes import Worker
from tests.reliability.slow_download import (
    ENTRY_COUNT,
    PAGE_SIZE,
    assert_downloaded_exactly_once,
    slow_kimai_sandbox,
    worker_that_received_the_job,
)
from workers.app import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_sigterm_finishes_the_running_job_and_no_half_written_page_is_ever_visible(clean_queues):
    with slow_kimai_sandbox() as sandbox, Worker(env=FAST_RETRIES) as worker:
        tracker = sandbox_project(sandbox).trackers.get()
        worker.wait_ready(app)
        handle = start_job("download_tracker", tracker_id=str(tracker.id))
        wait_for(lambda: sandbox.stats["kimai"]["requests"] >= 2, timeout=20, what="download half way")
        worker.signal(signal.SIGTERM)  # warm shutdown: finish the running job, take no new one
        seen_counts = set()
        while worker.is_running():
            seen_counts.add(WorkEntry.objects.filter(tracker=tracker).count())
            time.sleep(0.05)

        assert worker.process.returncode == 0, worker.output()
        assert AsyncResult(handle.job_id, app=app).state == "SUCCESS"
        assert handle.wait(timeout=5).ok
        assert all(count % PAGE_SIZE == 0 or count == ENTRY_COUNT for count in seen_counts), seen_counts
        assert_downloaded_exactly_once(tracker, sandbox, [worker])


SOFT_SHUTDOWN = {"REMAP_SIGTERM": "SIGQUIT", "SII_WORKER_SOFT_SHUTDOWN_IN_SECONDS": "2"}


@pytest.mark.slow
def test_sigterm_with_soft_shutdown_hands_a_long_job_to_another_worker_within_seconds(clean_queues):
    with slow_kimai_sandbox(latency_ms=2500) as sandbox:  # 6 pages: about 15 s, far longer than the soft shutdown
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
