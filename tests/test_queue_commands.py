"""Management commands on the job queue: enqueue and wait, --no-wait, --sync, no worker, clear_caches."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery.result import AsyncResult
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from siisurit.downloads.cache import download_cache_client, download_key
from siisurit.jobs import InProcessJobRunner, JobRequest, job_runner
from siisurit.management.base import JobCommand
from tests.processes import child_environment, wait_for
from tests.worker import queue_length, redis_test_client
from workers.app import app
from workers.dispatch import CeleryJobRunner

pytestmark = pytest.mark.worker
_REPO = Path(__file__).resolve().parent.parent


def run_command(*args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr, verbosity=2)
    return stdout.getvalue(), stderr.getvalue()


def fill_download_cache(tracker_id: str, count: int) -> None:
    client = download_cache_client()
    for index in range(count):
        client.set(download_key(tracker_id, f"page-{index}"), b"{}")


def cached_key_count() -> int:
    return sum(1 for _ in download_cache_client().scan_iter(match="siisurit:download:*"))


@pytest.fixture
def empty_download_cache():
    client = download_cache_client()
    assert os.environ["SII_REDIS_CACHE_URL"] == settings.SII_REDIS_CACHE_URL, "tests must use the test cache database"
    keys = list(client.scan_iter(match="siisurit:download:*"))
    if keys:
        client.delete(*keys)
    yield
    keys = list(client.scan_iter(match="siisurit:download:*"))
    if keys:
        client.delete(*keys)


class CountingCommand(JobCommand):
    """A command running the test-only counting job, as feature commands run theirs."""

    def add_job_arguments(self, parser):
        parser.add_argument("key")

    def job_requests(self, **options):
        return [JobRequest("test_counting", {"key": options["key"]}, "count")]


def run_counting_command(*args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(CountingCommand(), *args, stdout=stdout, stderr=stderr, verbosity=2)
    return stdout.getvalue(), stderr.getvalue()


def test_clear_caches_waits_for_the_worker_and_prints_the_summary(celery_worker_thread, empty_download_cache):
    fill_download_cache(str(uuid.uuid4()), 3)

    stdout, _ = run_command("clear_caches", "--no-input", "--timeout", "30")

    assert "done" in stdout
    summary = json.loads(stdout.split(") ", 1)[1])
    assert summary["keys"] == 3
    assert summary["retries"] == 0
    assert cached_key_count() == 0


def test_clear_caches_dry_run_counts_without_deleting(celery_worker_thread, empty_download_cache):
    fill_download_cache(str(uuid.uuid4()), 2)

    stdout, _ = run_command("clear_caches", "--dry-run", "--timeout", "30")

    assert '"keys": 2' in stdout
    assert cached_key_count() == 2


def test_no_wait_prints_the_job_id_and_the_job_runs(celery_worker_thread):
    stdout, _ = run_counting_command("no-wait", "--no-wait")

    job_id = stdout.strip().rsplit(" ", 1)[-1]
    summary = AsyncResult(job_id, app=app).get(timeout=30)
    assert summary["completed"] == 1
    assert summary["job"] == "test_counting"


def test_sync_runs_in_this_process_without_any_worker(clean_queues, transactional_db):
    stdout, _ = run_counting_command("sync", "--sync")

    assert "done" in stdout
    assert redis_test_client().get("siisurit-test:sync:completed") == b"1"


@override_settings(SII_JOB_RUNNER="siisurit.jobs.InProcessJobRunner")
def test_without_async_queue_every_command_runs_in_process(clean_queues, transactional_db):
    assert isinstance(job_runner(), InProcessJobRunner)

    stdout, _ = run_counting_command("in-process", "--no-wait")

    assert "done" in stdout  # --no-wait cannot apply: the job already ran
    assert redis_test_client().get("siisurit-test:in-process:completed") == b"1"


def test_without_worker_the_command_says_so_within_seconds(clean_queues, transactional_db):
    started = time.monotonic()

    with pytest.raises(CommandError, match=r"no worker consumes queue maintenance.*celery -A workers worker"):
        run_counting_command("nobody")

    assert time.monotonic() - started < 5
    assert queue_length("maintenance") == 0  # nothing left behind to surprise a worker started later


def test_without_worker_no_wait_warns_and_leaves_the_job_queued(clean_queues, transactional_db):
    stdout, stderr = run_counting_command("later", "--no-wait")

    assert "enqueued job" in stdout
    assert "no worker consumes queue maintenance" in stderr
    assert queue_length("maintenance") == 1


def test_clearing_caches_leaves_queued_jobs_in_place(clean_queues, transactional_db, empty_download_cache):
    fill_download_cache(str(uuid.uuid4()), 5)
    run_counting_command("queued", "--no-wait")
    queued = queue_length("maintenance")
    broker_keys = redis_test_client().dbsize()

    stdout, _ = run_command("clear_caches", "--sync", "--no-input")

    assert '"keys": 5' in stdout
    assert queued == 1
    assert queue_length("maintenance") == queued
    assert redis_test_client().dbsize() == broker_keys


def test_failed_job_makes_the_command_fail_with_its_message(celery_worker_thread):
    class PermanentCommand(CountingCommand):
        def job_requests(self, **options):
            return [JobRequest("test_permanent", {"key": options["key"]}, "permanent")]

    stderr = io.StringIO()
    with pytest.raises(CommandError, match="1 of 1 job failed"):
        call_command(PermanentCommand(), "fails", "--timeout", "30", stdout=io.StringIO(), stderr=stderr)

    assert "PermanentError: test tracker answered HTTP 401" in stderr.getvalue()


def test_celery_runner_enqueues_only_after_the_transaction_commits(clean_queues, transactional_db):
    from django.db import transaction

    with transaction.atomic():
        CeleryJobRunner().start(JobRequest("test_counting", {"key": "commit"}))
        assert queue_length("maintenance") == 0

    # The module's idle worker thread may still hold a blocking pop that takes the message and hands it straight
    # back ("no consumers"): wait for it to be in the queue rather than sampling once.
    wait_for(lambda: queue_length("maintenance") == 1, timeout=10, what="the job enqueued after the commit")


def test_running_job_shows_its_progress_to_the_waiting_command_and_in_the_backend(celery_worker_thread):
    handle = CeleryJobRunner().start(JobRequest("test_counting", {"key": "progress", "hold_seconds": 30}))
    seen = []

    def progress(current, total, what):
        if not seen:
            state = AsyncResult(handle.job_id, app=app)
            assert state.state == "PROGRESS"  # what Flower and `manage.py jobs` read
            assert state.info["what"] == "holding"
            redis_test_client().rpush("siisurit-test:progress:release", "go")
        seen.append((current, total, what))

    outcome = handle.wait(timeout=30, progress=progress)

    assert outcome.ok
    assert seen[0] == (0, 2, "holding")
    assert outcome.summary["completed"] == 1


def test_jobs_command_lists_workers_queues_and_recent_jobs(celery_worker_thread):
    run_counting_command("listed", "--timeout", "30")
    run_counting_command("waiting", "--no-wait", "--sync")

    stdout, _ = run_command("jobs", "--json", "--limit", "5")

    status = json.loads(stdout)
    assert any("maintenance" in queues for queues in status["workers"].values())
    assert set(status["queues"]) == {"download", "matching", "maintenance"}
    recent = status["recent"][0]
    assert recent["name"] == "tests.worker.test_counting"
    assert recent["state"] == "SUCCESS"
    assert recent["kwargs"] == {"key": "listed"}
    assert recent["runtime_seconds"] is not None
    text, _ = run_command("jobs", "--limit", "5")
    assert "Workers" in text and "SUCCESS  test_counting" in text and recent["job_id"] in text


def test_clear_caches_limited_to_an_organization_keeps_other_trackers(transactional_db, empty_download_cache):
    from tests.factories import make_organization, make_project, make_tracker

    kept = make_tracker(make_project(make_organization(code="kept"), code="p"), name="github")
    cleared = make_tracker(make_project(make_organization(code="cleared"), code="p"), name="github")
    fill_download_cache(str(kept.id), 2)
    fill_download_cache(str(cleared.id), 3)

    stdout, _ = run_command("clear_caches", "--sync", "--no-input", "--organization", "cleared")

    assert '"keys": 3' in stdout
    assert cached_key_count() == 2
    with pytest.raises(CommandError, match="--project needs --organization"):
        run_command("clear_caches", "--sync", "--no-input", "--project", "p")


def test_clear_caches_bare_asks_nothing_and_works_without_a_terminal(transactional_db, empty_download_cache):
    fill_download_cache(str(uuid.uuid4()), 2)

    # As cron runs it: no option, no terminal, stdin closed.
    result = subprocess.run(
        [sys.executable, "manage.py", "clear_caches", "--sync"],
        cwd=_REPO, env=child_environment(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "clear caches (all trackers): done" in result.stdout
    assert cached_key_count() == 0


def test_clear_caches_rejects_a_tracker_that_is_no_uuid(transactional_db):
    with pytest.raises(CommandError, match="--tracker: 'github' is not a tracker id"):
        run_command("clear_caches", "--sync", "--no-input", "--tracker", "github")


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "soon"])
def test_timeout_must_be_positive_seconds(timeout, transactional_db):
    with pytest.raises(CommandError, match="--timeout: must be a number of seconds greater than 0"):
        run_counting_command("never", "--sync", "--timeout", timeout)


def test_jobs_limit_must_not_be_negative():
    with pytest.raises(CommandError, match="--limit: must be a whole number of at least 0"):
        run_command("jobs", "--limit", "-3")


def test_verbosity_0_hides_the_info_log_of_in_process_jobs(caplog, clean_queues, transactional_db):
    caplog.set_level(logging.INFO)
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("make_reports", "--sync", stdout=stdout, stderr=stderr, verbosity=0)

    assert stdout.getvalue() == ""
    assert [record for record in caplog.records if record.levelno < logging.WARNING] == []
    assert logging.getLogger("siisurit").level == logging.NOTSET  # restored afterwards
    call_command("make_reports", "--sync", stdout=stdout, stderr=stderr, verbosity=1)
    assert any(record.name.startswith("siisurit.") for record in caplog.records)
