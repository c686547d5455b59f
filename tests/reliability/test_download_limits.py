"""Downloads stop on time and within bounds whatever the tracker does, in `--sync` and on a worker.

Endless pagination, a body trickling in byte by byte, an oversized page and a job time limit of a few seconds:
each ends within its limit plus a few seconds, with its own message naming the tracker and the limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sandbox import SandboxTrackers
from siisurit.jobs import InProcessJobRunner, JobRequest
from siisurit.models import WorkEntry
from tests.factories import make_project
from tests.reliability.conftest import FAST_RETRIES, sandbox_tracker, start_job
from tests.reliability.processes import Worker
from workers.app import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ENTRY_COUNT = 2600  # 6 pages of 500 in Kimai
TIME_LIMIT = 5
LIMITS = {
    "SII_HTTP_ATTEMPTS": "1",
    "SII_DOWNLOAD_MAX_PAGES": "20",
    "SII_HTTP_REQUEST_BUDGET_IN_SECONDS": "3",
    "SII_HTTP_MAX_RESPONSE_BYTES": "1000000",
    "SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS": str(TIME_LIMIT),
}


@pytest.fixture(scope="module")
def limits_sandbox() -> Iterator[SandboxTrackers]:
    with SandboxTrackers(seed=41, task_count=5, entry_count=ENTRY_COUNT, other_entry_count=0) as trackers:
        yield trackers


@pytest.fixture(scope="module")
def limits_worker(django_db_setup, django_db_blocker) -> Iterator[Worker]:
    # No job-level retries: each limit is seen once (a request over its budget is transient and would be retried).
    with django_db_blocker.unblock(), Worker(env={**FAST_RETRIES, "SII_JOB_MAX_RETRIES": "0", **LIMITS}) as process:
        process.wait_ready(app)
        yield process


@pytest.fixture(params=["sync", "worker"])
def run(request, settings, clean_queues):
    """Run a download in process with the same limits as the worker, or on the worker; (outcome, seconds)."""
    if request.param == "worker":
        request.getfixturevalue("limits_worker")

        def on_worker(tracker):
            return start_job("download_tracker", tracker_id=str(tracker.id)).wait(timeout=60)

        return timed(on_worker)
    for name, value in LIMITS.items():
        setattr(settings, name, int(value))
    return timed(
        lambda tracker: (
            InProcessJobRunner().start(JobRequest("download_tracker", {"tracker_id": str(tracker.id)})).wait()
        )
    )


def timed(download):
    def run(tracker):
        started = time.monotonic()
        outcome = download(tracker)
        return outcome, time.monotonic() - started

    return run


@pytest.fixture
def kimai(limits_sandbox):
    limits_sandbox.clear_faults()
    limits_sandbox.reset_stats()
    limits_sandbox.set_latency(0)
    yield sandbox_tracker(make_project(), limits_sandbox, "kimai")
    limits_sandbox.clear_faults()
    limits_sandbox.set_latency(0)


def test_endless_pagination_stops_at_the_page_limit(run, kimai, limits_sandbox):
    limits_sandbox.inject("kimai", fault="endless", count=None, path="/api/timesheets")

    outcome, seconds = run(kimai)

    assert outcome.state == "FAILURE"
    assert outcome.error.startswith(
        "kimai tracker 'kimai-tracker': stopped after 20 pages of one listing, the limit (SII_DOWNLOAD_MAX_PAGES)"
    ), outcome.error
    assert limits_sandbox.stats["kimai"]["requests"] <= 20 + 2
    assert seconds < 20


def test_a_trickling_body_ends_at_the_request_budget(run, kimai, limits_sandbox):
    limits_sandbox.inject("kimai", fault="trickle", delay_ms=200, count=None, path="/api/timesheets")

    outcome, seconds = run(kimai)

    assert outcome.state == "FAILURE"
    assert "took longer than the request budget of 3.0 s (SII_HTTP_REQUEST_BUDGET_IN_SECONDS" in outcome.error
    assert outcome.error.startswith("kimai tracker 'kimai-tracker': the answer for /api/timesheets"), outcome.error
    assert seconds < 3 + 5, (seconds, limits_sandbox.stats["kimai"])


def test_an_oversized_page_is_refused_naming_the_limit(run, kimai, limits_sandbox):
    limits_sandbox.inject("kimai", fault="oversize", size=2_000_000, path="/api/timesheets")

    outcome, _ = run(kimai)

    assert outcome.state == "FAILURE"
    assert outcome.error == (
        "kimai tracker 'kimai-tracker': the answer for /api/timesheets is larger than the limit of 1,000,000 bytes "
        "(SII_HTTP_MAX_RESPONSE_BYTES)"
    )
    assert outcome.error_type == "PermanentError"


def test_a_slow_download_stops_at_the_job_time_limit_and_keeps_its_pages(run, kimai, limits_sandbox):
    limits_sandbox.set_latency(1500, kind="kimai")  # 6 pages: about 9 s

    outcome, seconds = run(kimai)

    assert outcome.state == "FAILURE"
    assert outcome.error_type == "DeadlineError"
    assert outcome.error.startswith(
        f"kimai tracker 'kimai-tracker': stopped at the job's time limit of {TIME_LIMIT}.0 s "
        "(SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS)"
    ), outcome.error
    assert seconds < TIME_LIMIT + 4
    stored = WorkEntry.objects.filter(tracker=kimai).count()
    assert stored % 500 == 0 and 0 < stored < ENTRY_COUNT, "the pages fetched in time are committed whole"
