"""Tracker faults from the sandbox, through a real worker: transient ones are retried within bounds, others not."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from sandbox import SandboxTrackers
from siisurit.connectors.http import HttpClient
from siisurit.errors import TransientError
from siisurit.jobs import InProcessJobRunner, JobRequest
from siisurit.models import WorkEntry
from siisurit.retry_policy import NO_RETRIES
from tests.factories import make_project
from tests.processes import free_port, wait_for
from tests.reliability.conftest import FAST_RETRIES, sandbox_tracker, start_job
from tests.reliability.processes import Worker
from workers.app import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

MAX_RETRIES = int(FAST_RETRIES["SII_JOB_MAX_RETRIES"])
REQUEST_ATTEMPTS = 4
#: Retries in place without waiting (but honouring Retry-After): the policy is production's, the numbers small.
FAST_REQUEST_RETRIES = {
    "SII_HTTP_ATTEMPTS": str(REQUEST_ATTEMPTS),
    "SII_HTTP_RETRY_BACKOFF_IN_SECONDS": "0",
    "SII_HTTP_RETRY_WAIT_MAX_IN_SECONDS": "2",
}


@pytest.fixture(scope="module")
def fault_sandbox() -> Iterator[SandboxTrackers]:
    with SandboxTrackers(seed=17, task_count=5, entry_count=40, other_entry_count=0) as trackers:
        yield trackers


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker) -> Iterator[Worker]:
    with django_db_blocker.unblock(), Worker(env={**FAST_RETRIES, **FAST_REQUEST_RETRIES}) as process:
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


def download_in_process(tracker):
    """As `--sync` and SII_USE_ASYNC_QUEUE=false run it: in this process, same service, same policy."""
    return InProcessJobRunner().start(JobRequest("download_tracker", {"tracker_id": str(tracker.id)})).wait()


@pytest.fixture(params=["sync", "worker"])
def run(request, settings):
    """Run a download in process (with the same request retry settings as the worker) or on the worker."""
    if request.param == "worker":
        request.getfixturevalue("worker")
        return download
    for name, value in FAST_REQUEST_RETRIES.items():
        setattr(settings, name, int(value))
    return download_in_process


def statuses(sandbox: SandboxTrackers) -> dict[int, int]:
    return dict(sandbox.stats["kimai"]["statuses"])


def assert_complete(tracker, sandbox: SandboxTrackers) -> None:
    external_ids = list(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", flat=True))
    assert sorted(external_ids) == sorted(str(entry_id) for entry_id in sandbox.entry_ids("kimai"))


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "count": 1, "retry_after": 1},
        {"status": 429, "count": 3, "retry_after": 1},
        {"status": 503, "count": 2},
        {"status": 502, "count": 1},
        {"fault": "drop", "count": 3},
        {"fault": "incomplete", "count": 2},
    ],
    ids=["429-first-with-retry-after", "429-burst", "503-burst", "502", "connection-resets", "incomplete-bodies"],
)
def test_transient_faults_are_retried_in_place_and_the_download_completes(run, kimai, fault_sandbox, fault):
    fault_sandbox.inject("kimai", **fault)

    outcome = run(kimai)

    assert outcome.ok, outcome.error
    assert outcome.summary["retries"] == 0, "no job-level retry: the client retried in place"
    assert outcome.summary["retried_in_place"] == fault["count"]
    assert fault_sandbox.stats["kimai"]["requests"] == 1 + fault["count"], "one page plus the repeated requests"
    assert_complete(kimai, fault_sandbox)


PAGES = 6  # 2600 entries in pages of 500


@pytest.fixture(scope="module")
def paged_sandbox() -> Iterator[SandboxTrackers]:
    with SandboxTrackers(seed=19, task_count=5, entry_count=2600, other_entry_count=0) as trackers:
        yield trackers


@pytest.mark.parametrize("page", [1, 4, PAGES])
@pytest.mark.parametrize("fault", [{"status": 503}, {"fault": "incomplete"}], ids=["503", "reset-mid-body"])
def test_one_transient_failure_on_page_k_of_n_costs_one_request_more(run, paged_sandbox, clean_queues, fault, page):
    paged_sandbox.clear_faults()
    paged_sandbox.reset_stats()
    tracker = sandbox_tracker(make_project(), paged_sandbox, "kimai")
    paged_sandbox.inject("kimai", **fault, every=page, count=1, path="/api/timesheets")

    outcome = run(tracker)

    assert outcome.ok, outcome.error
    assert paged_sandbox.stats["kimai"]["requests"] <= PAGES + 2
    assert outcome.summary["requests"] == PAGES + 1
    assert outcome.summary["retried_in_place"] == 1
    external_ids = list(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", flat=True))
    assert sorted(external_ids) == sorted(str(entry_id) for entry_id in paged_sandbox.entry_ids("kimai"))


def test_a_tracker_that_stays_unavailable_fails_after_the_retry_caps_with_a_clear_message(kimai, fault_sandbox):
    fault_sandbox.inject("kimai", status=503, count=None)

    outcome = download(kimai)

    assert outcome.state == "FAILURE"
    assert re.search(
        r"kimai tracker 'kimai-tracker': gave up after 4 attempts over [\d.]+ s: HTTP 503", outcome.error
    ), outcome.error
    job_level = rf"; the job gave up after {MAX_RETRIES + 1} attempts over [\d.]+ s$"
    assert re.search(job_level, outcome.error), outcome.error
    assert statuses(fault_sandbox) == {503: REQUEST_ATTEMPTS * (MAX_RETRIES + 1)}, "attempts in place x job attempts"
    assert not WorkEntry.objects.filter(tracker=kimai).exists()


def test_a_tracker_that_is_down_gives_up_naming_what_was_tried(run, fault_sandbox, transactional_db):
    tracker = sandbox_tracker(make_project(), fault_sandbox, "kimai")
    tracker.api_location = f"http://127.0.0.1:{free_port()}/en/admin/project/1/details"  # nobody listens there
    tracker.save()

    outcome = run(tracker)

    assert outcome.state == "FAILURE"
    assert re.fullmatch(
        r"kimai tracker 'kimai-tracker': gave up after 4 attempts over [\d.]+ s: "
        r"connection refused \(127\.0\.0\.1:\d+\)"
        r"(; the job gave up after 4 attempts over [\d.]+ s)?",  # on a worker, after the job-level retries
        outcome.error,
    ), outcome.error


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
    client = HttpClient(label="kimai tracker 'slow'", timeout=(1, 0.3), policy=NO_RETRIES)
    answered_before = fault_sandbox.stats["kimai"]["requests"]
    try:
        with pytest.raises(TransientError, match=r"no answer within 0\.3 s"):
            client.get(f"{fault_sandbox.base_url('kimai')}/api/timesheets")
    finally:
        client.close()
        # The sandbox answers (and counts) the abandoned request later: let it, so it never lands in the next test.
        wait_for(lambda: fault_sandbox.stats["kimai"]["requests"] > answered_before, timeout=30, what="the late answer")
        fault_sandbox.set_latency(0, kind="kimai")


def test_update_project_sync_waits_out_a_429_with_retry_after_instead_of_failing(fault_sandbox, settings):
    """The issue's report: `update_project ORG PROJECT --sync` failed at once on `429` with `Retry-After: 1`."""
    import io

    from django.core.management import call_command

    for name, value in FAST_REQUEST_RETRIES.items():
        setattr(settings, name, int(value))
    fault_sandbox.clear_faults()
    fault_sandbox.reset_stats()
    project = make_project()
    tracker = sandbox_tracker(project, fault_sandbox, "kimai")
    fault_sandbox.inject("kimai", status=429, retry_after=1, count=1)
    stdout = io.StringIO()

    call_command(
        "update_project", project.organization.code, project.code, "--sync", stdout=stdout, stderr=io.StringIO()
    )

    assert "done" in stdout.getvalue()
    assert statuses(fault_sandbox) == {429: 1, 200: 1}
    assert_complete(tracker, fault_sandbox)


def test_a_tracker_down_for_longer_than_the_request_budget_is_caught_up_by_the_job_retry(
    request, run, kimai, fault_sandbox
):
    outage = REQUEST_ATTEMPTS + 2  # requests answered by a dropped connection: more than one request's budget
    fault_sandbox.inject("kimai", fault="drop", count=outage)

    outcome = run(kimai)

    if request.node.callspec.params["run"] == "worker":  # the job-level retry comes after the outage
        assert outcome.ok, outcome.error
        assert outcome.summary["retries"] == 1
        assert fault_sandbox.stats["kimai"]["requests"] == outage + 1
    else:  # --sync has no job level: the command fails clearly, and the next run completes
        assert "gave up after 4 attempts" in outcome.error, outcome.error
        assert run(kimai).ok
    assert_complete(kimai, fault_sandbox)
