"""What an operator sees of the jobs: `manage.py jobs` (order, columns, subjects), progress with honest totals,
retries in sight, the wait that ends at --timeout, job subjects for Flower, compact summaries."""

from __future__ import annotations

import io
import json
import time
import uuid
from types import SimpleNamespace

import pytest
from celery.result import AsyncResult
from django.core.management import call_command
from django.core.management.base import CommandError

from sandbox import SandboxTrackers
from siisurit.downloads.service import tracker_download
from siisurit.jobs import Job, JobRequest, job_register
from siisurit.jobs.summary import SUMMARY_MAX_CHARACTERS, summary_compact
from siisurit.management.base import EXIT_STILL_RUNNING, JobCommand
from siisurit.project_update import DownloadsProgress, project_update
from siisurit.secrets import Secret
from tests.factories import make_organization, make_project, make_tracker
from tests.processes import wait_for
from tests.worker import (
    counting,
    flaky_service,
    locked,
    permanent,
    redis_test_client,
    release,
    wait_until_started,
)
from workers import task_base
from workers.app import app
from workers.dispatch import CeleryJobRunner
from workers.job_tasks import job_celery_task

# Fails transiently, then waits 30 to 60 s before its next attempt: long enough to be seen retrying.
slow_retry = job_celery_task(
    job_register(Job("test_slow_retry", flaky_service, "maintenance", "tests.operator", "slow retry")),
    retry_backoff=60,
    retry_backoff_max=60,
)


def jobs_output(*args: str) -> str:
    stdout = io.StringIO()
    call_command("jobs", *args, stdout=stdout)
    return stdout.getvalue()


def state_of(job_id: str) -> str:
    return AsyncResult(job_id, app=app).state


def test_jobs_shows_retrying_and_failed_first_then_a_running_job_once_then_recent_ones(celery_worker_thread):
    project = make_project(make_organization("acme"), "webshop")
    make_tracker(
        project, "webshop-jira", last_download_outcome="failed", last_download_error="HTTP 401: check the token"
    )
    done = counting.apply_async(kwargs={"key": "done"})
    done.get(timeout=30)
    failed = permanent.apply_async(kwargs={"key": "failed"})
    failed.get(timeout=30, propagate=False)
    retrying = slow_retry.apply_async(kwargs={"key": "retrying", "failures": 5})
    wait_for(lambda: state_of(retrying.id) == "RETRY", timeout=30, what="the job retrying")
    running = locked.apply_async(kwargs={"project_id": str(project.id), "key": "running", "hold_seconds": 60})
    wait_until_started("running")
    try:
        status = json.loads(jobs_output("--json"))
        text = jobs_output()
    finally:
        release("running")
    running.get(timeout=30)

    assert [job["job_id"] for job in status["attention"]] == [retrying.id, failed.id]
    retry = status["attention"][0]
    assert (retry["job"], retry["attempts"], retry["retry"]["attempts"]) == ("test_slow_retry", 2, 6)
    assert retry["detail"].startswith("retrying (attempt 2 of 6, next in ")
    assert retry["detail"].endswith("s): TransientError: flaky test service: attempt 1 failed")
    assert "HTTP 401" in status["attention"][1]["error"]
    all_jobs = [job["job_id"] for section in ("attention", "running", "recent") for job in status[section]]
    assert all_jobs.count(running.id) == 1 and running.id in [job["job_id"] for job in status["running"]]
    assert status["running"][0]["subject"] == "acme/webshop"
    assert status["recent"][0]["job_id"] == done.id
    assert all(job["since_enqueued_seconds"] is not None for job in status["attention"] + status["recent"])

    lines = text.splitlines()
    header = next(line for line in lines if line.strip().startswith("STATE"))
    assert header.split() == ["STATE", "JOB", "SUBJECT", "ATTEMPTS", "ENQUEUED", "TOOK", "JOB", "ID", "DETAIL"]

    def line_of(job_id: str) -> int:
        return next(index for index, line in enumerate(lines) if job_id in line)

    assert line_of(retrying.id) < line_of(failed.id) < line_of(running.id) < line_of(done.id)
    assert "RETRYING" in lines[line_of(retrying.id)] and "next in" in lines[line_of(retrying.id)]
    assert "acme/webshop" in lines[line_of(running.id)] and "test_locked" in lines[line_of(running.id)]
    assert " ago " in lines[line_of(done.id)]
    assert status["recent"][0]["took_seconds"] is not None
    assert status["failing_trackers"][0]["tracker"] == "acme/webshop/webshop-jira"
    assert line_of("acme/webshop/webshop-jira") < line_of(retrying.id)
    assert lines[line_of("acme/webshop/webshop-jira")].endswith("HTTP 401: check the token")


def test_a_retrying_job_shows_its_attempt_and_error_to_the_waiting_command(celery_worker_thread):
    seen = []
    handle = CeleryJobRunner().start(JobRequest("test_flaky", {"key": f"flaky-{uuid.uuid4().hex}", "failures": 1}))

    outcome = handle.wait(timeout=30, progress=lambda current, total, what: seen.append(what))

    assert outcome.ok and outcome.summary["retries"] == 1
    retrying = [what for what in seen if what.startswith("retrying")]
    assert retrying and retrying[0].startswith("retrying (attempt 2 of 6, next in ")
    assert retrying[0].endswith("TransientError: flaky test service: attempt 1 failed")


class HoldingCommand(JobCommand):
    """A job command whose job holds until released (as a long download would)."""

    def add_job_arguments(self, parser):
        parser.add_argument("key")

    def job_requests(self, **options):
        return [JobRequest("test_counting", {"key": options["key"], "hold_seconds": 60}, "hold")]


def test_a_wait_ending_at_its_timeout_says_the_job_goes_on_and_exits_with_its_own_code(celery_worker_thread):
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with pytest.raises(CommandError) as ended:
            call_command(HoldingCommand(), "held", "--timeout", "1", stdout=stdout, stderr=stderr)
    finally:
        release("held")

    assert ended.value.returncode == EXIT_STILL_RUNNING == 3
    assert "still running after --timeout 1 s; it goes on" in str(ended.value)
    assert "failed" not in str(ended.value)
    assert "hold: still running (job " in stderr.getvalue() and "it goes on: see `manage.py jobs`" in stderr.getvalue()


def test_the_summary_counts_the_time_since_enqueued_and_the_attempts(celery_worker_thread):
    stdout = io.StringIO()

    class FlakyCommand(JobCommand):
        def job_requests(self, **options):
            return [JobRequest("test_flaky", {"key": f"flaky-{uuid.uuid4().hex}", "failures": 2}, "flaky")]

    call_command(FlakyCommand(), "--timeout", "30", stdout=stdout)

    assert " after 3 attempts (job " in stdout.getvalue()
    summary = json.loads(call_command_json(FlakyCommand()))
    assert summary["attempts"] == 3 and summary["since_enqueued_seconds"] >= summary["duration_seconds"]


def call_command_json(command: JobCommand) -> str:
    """The summary a job command prints at verbosity 2 (one JSON object after `done (job …)`)."""
    stdout = io.StringIO()
    call_command(command, "--timeout", "30", stdout=stdout, verbosity=2)
    return stdout.getvalue().split(") ", 1)[1]


def test_jobs_are_sent_with_their_subject_by_codes_for_flower_and_an_id_telling_when(clean_queues, transactional_db):
    tracker = make_tracker(make_project(make_organization("acme"), "webshop"), "webshop-github", api_token="t0ken")

    result = app.tasks["tasks.download.download_tracker"].apply_async(kwargs={"tracker_id": str(tracker.id)})

    message = json.loads(redis_test_client().lindex("download", 0))
    assert message["headers"]["id"] == result.id and uuid.UUID(result.id).version == 7
    assert message["headers"]["kwargsrepr"] == repr(
        {"tracker": "acme/webshop/webshop-github", "tracker_id": str(tracker.id)}
    )
    assert "t0ken" not in json.dumps(message)


def test_long_summaries_become_compact_and_keep_their_counts():
    downloads = [
        {"tracker": f"tracker-{index}", "tracker_id": str(uuid.uuid4()), "kind": "github", "items": 1000 + index,
         "created": index, "updated": 0, "unchanged": 1000, "deleted": 0, "pages": 10, "requests": 11}
        for index in range(12)
    ]  # fmt: skip
    summary = {"job": "update_project", "project_id": "p", "trackers": 12, "downloads": downloads, "retries": 0}

    compact = summary_compact(summary)

    assert len(repr(compact)) <= SUMMARY_MAX_CHARACTERS < len(repr(summary))
    assert compact["trackers"] == 12 and compact["job"] == "update_project"
    assert compact["project_id"] == "p", "a compacted result still names its subject"
    assert summary_compact({"job": "small", "items": 0}) == {"job": "small", "items": 0}


# --- Progress totals ---------------------------------------------------------------------------------------------


def test_downloads_progress_counts_items_over_all_trackers_with_a_total_only_once_every_total_is_known():
    calls = []
    downloads = DownloadsProgress(lambda *call: calls.append(call), ["a", "b"])
    github, clockodo = downloads.of_tracker("a"), downloads.of_tracker("b")

    github(100, 300, "github: page 1")
    clockodo(50, None, "clockodo: page 1")
    github(300, 300, "github: page 3")
    downloads.finished("a")
    clockodo(120, None, "clockodo: page 3")
    downloads.finished("b")

    assert calls == [
        (100, None, "download github: page 1"),
        (150, None, "download clockodo: page 1"),
        (350, None, "download github: page 3"),
        (350, None, "download: 1 of 2 trackers done"),
        (420, None, "download clockodo: page 3"),
        (420, 420, "download: 2 of 2 trackers done"),
    ]


@pytest.mark.django_db(transaction=True)  # trackers download in threads with their own connections
def test_project_update_progress_names_trackers_and_never_shows_a_total_below_the_count():
    with SandboxTrackers(seed=3, task_count={"github": 40}, entry_count={"kimai": 0, "clockodo": 260}) as sandbox:
        project = make_project(make_organization("acme"), "webshop")
        make_tracker(
            project, "webshop-github", api_kind="github", api_location=sandbox.api_location("github"),
            api_token=sandbox.token("github"),
        )  # fmt: skip
        make_tracker(
            project, "webshop-clockodo", api_kind="clockodo", api_location=sandbox.api_location("clockodo"),
            api_token=Secret(sandbox.token("clockodo")), api_username=sandbox.username("clockodo"),
        )  # fmt: skip
        calls = []
        project_update(project_id=str(project.id), progress=lambda *call: calls.append(call))

    downloading = [call for call in calls if call[2].startswith("download")]
    assert any("webshop-clockodo: page" in what for _, _, what in downloading)
    assert all(total is None or current <= total for current, total, _ in calls)
    clockodo_pages = [call for call in downloading if "webshop-clockodo: page" in call[2]]
    assert all(total is None for _, total, _ in clockodo_pages), "Clockodo's windows have no common total"
    assert downloading[-1][:2] == (40 + 260, 40 + 260)
    assert [what.split(":")[0] for _, _, what in calls[len(downloading) :]][:1] == ["match"]
    assert calls[-1][2].startswith("reports: ")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["gitlab", "kimai", "clockodo"])
def test_a_tracker_download_shows_a_total_only_when_it_is_the_whole_downloads(kind):
    with SandboxTrackers(seed=4, task_count={"gitlab": 130}, entry_count={"kimai": 230, "clockodo": 230}) as sandbox:
        tracker = make_tracker(
            api_kind=kind, api_location=sandbox.api_location(kind), api_token=Secret(sandbox.token(kind)),
            api_username=sandbox.username(kind) if kind == "clockodo" else "",
        )  # fmt: skip
        calls = []
        summary = tracker_download(tracker_id=str(tracker.id), progress=lambda *call: calls.append(call))

    assert calls[-1][0] == summary["items"] > 0
    if kind == "kimai":  # one listing with X-Total-Count: the total is known from the first page on
        assert all(total == summary["items"] for _, total, _ in calls)
    else:  # GitLab's issues then merge requests, Clockodo's yearly windows: no total is the download's
        assert all(total is None for _, total, _ in calls)


def test_a_job_tells_progress_only_after_its_first_interval_then_at_most_once_an_interval_and_every_last_step(
    monkeypatch,
):
    now = 1000.0
    monkeypatch.setattr(task_base, "time", SimpleNamespace(monotonic=lambda: now, time=time.time))
    stored, events = [], []
    monkeypatch.setattr(counting, "update_state", lambda **kwargs: stored.append(kwargs["meta"]["what"]))
    monkeypatch.setattr(counting, "send_progress_event", lambda task_id, hostname, text: events.append(text))
    counting.push_request(id="job-1", is_eager=False, hostname="worker@host", retries=0)
    try:
        publish = counting.progress_publisher()
        publish(1, 2, "page 1")
        publish(2, 2, "page 2")  # a job done this soon tells its end by its result
        assert stored == events == []
        now += task_base.PROGRESS_INTERVAL_SECONDS
        publish(1, 3, "page 1")
        publish(2, 3, "page 2")  # within the interval after the step before
        publish(3, 3, "page 3")  # a last step, once the first interval is over, always
        assert stored == ["page 1", "page 3"] and events == ["1/3 page 1", "3/3 page 3"]
    finally:
        counting.pop_request()
