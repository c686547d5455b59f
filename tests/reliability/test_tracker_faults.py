"""Tracker faults from the sandbox, through a real worker: transient ones are retried within bounds, others not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import SandboxTrackers
from siisurit.connectors.http import HttpClient
from siisurit.errors import TransientError
from siisurit.models import WorkEntry
from tests.factories import make_project
from tests.reliability.conftest import FAST_RETRIES, sandbox_tracker, start_job
from tests.reliability.processes import Worker
from workers.app import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

MAX_RETRIES = int(FAST_RETRIES["SII_JOB_MAX_RETRIES"])


@pytest.fixture(scope="module")
def fault_sandbox() -> Iterator[SandboxTrackers]:
    with SandboxTrackers(seed=17, task_count=5, entry_count=40, other_entry_count=0) as trackers:
        yield trackers


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker) -> Iterator[Worker]:
    with django_db_blocker.unblock(), Worker(env=FAST_RETRIES) as process:
        process.wait_ready(app)
        yield process


@pytest.fixture
def kimai(fault_sandbox, worker, clean_queues):
    fault_sandbox.clear_faults()
    fault_sandbox.reset_stats()
    yield sandbox_tracker(make_project(), fault_sandbox, "kimai")
    fault_sandbox.clear_faults()


def download(tracker, *, timeout: float = 40):
    return start_job("download_tracker", tracker_id=str(tracker.id)).wait(timeout=timeout)


def statuses(sandbox: SandboxTrackers) -> dict[int, int]:
    return dict(sandbox.stats["kimai"]["statuses"])


def assert_complete(tracker, sandbox: SandboxTrackers) -> None:
    external_ids = list(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", flat=True))
    assert sorted(external_ids) == sorted(str(entry_id) for entry_id in sandbox.entry_ids("kimai"))


@pytest.mark.parametrize(
    ("fault", "expected_retries"),
    [
        ({"status": 429, "count": 3, "retry_after": 1}, 3),
        ({"status": 503, "count": 2}, 2),
        ({"status": 502, "count": 1}, 1),
        # A dropped connection is retried once at once inside the download; the third drop fails the attempt.
        ({"fault": "drop", "count": 3}, 1),
        ({"fault": "incomplete", "count": 2}, 1),
    ],
    ids=["429-burst-with-retry-after", "503-burst", "502", "connection-resets", "incomplete-bodies"],
)
def test_transient_faults_are_retried_and_the_download_completes(kimai, fault_sandbox, fault, expected_retries):
    fault_sandbox.inject("kimai", **fault)

    outcome = download(kimai)

    assert outcome.ok, outcome.error
    assert outcome.summary["retries"] == expected_retries
    assert_complete(kimai, fault_sandbox)


def test_a_tracker_that_stays_unavailable_fails_after_the_retry_cap_with_a_clear_message(kimai, fault_sandbox):
    fault_sandbox.inject("kimai", status=503, count=None)

    outcome = download(kimai)

    assert outcome.state == "FAILURE"
    assert "HTTP 503" in outcome.error and "kimai tracker" in outcome.error
    assert statuses(fault_sandbox) == {503: MAX_RETRIES + 1}, "one attempt plus the capped retries"
    assert not WorkEntry.objects.filter(tracker=kimai).exists()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_refusals_fail_at_once_and_are_never_retried(kimai, fault_sandbox, status):
    fault_sandbox.inject("kimai", status=status, count=None)

    outcome = download(kimai)

    assert outcome.state == "FAILURE"
    assert outcome.error_type == "PermanentError"
    assert f"HTTP {status}" in outcome.error
    assert statuses(fault_sandbox) == {status: 1}, "a refusal must not be retried"


def test_truncated_json_fails_at_once_with_a_clear_message(kimai, fault_sandbox):
    fault_sandbox.inject("kimai", fault="truncate", count=1)

    outcome = download(kimai)

    assert outcome.state == "FAILURE"
    assert outcome.error_type == "PermanentError"
    assert "malformed JSON" in outcome.error
    assert fault_sandbox.stats["kimai"]["requests"] == 1


def test_a_slow_answer_is_a_transient_timeout(fault_sandbox):
    fault_sandbox.clear_faults()
    fault_sandbox.set_latency(1500, kind="kimai")
    client = HttpClient(label="kimai tracker 'slow'", timeout=(1, 0.3))
    try:
        with pytest.raises(TransientError, match="timeout"):
            client.get(f"{fault_sandbox.base_url('kimai')}/api/timesheets")
    finally:
        client.close()
        fault_sandbox.set_latency(0, kind="kimai")
