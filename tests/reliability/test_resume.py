"""Resume, do not restart: a download that failed or was killed after committed pages goes on from there."""

from __future__ import annotations

import signal

import pytest

from sandbox import SandboxTrackers
from siisurit.downloads.service import tracker_download
from siisurit.errors import TransientError
from siisurit.models import WorkEntry
from tests.factories import make_project
from tests.processes import wait_for
from tests.reliability.conftest import FAST_RETRIES, log_count, sandbox_tracker, start_job
from tests.reliability.processes import Worker
from workers.app import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ENTRY_COUNT = 2600
PAGES = 6  # of 500


def stored_ids(tracker) -> list[str]:
    return list(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", flat=True))


def assert_exact(tracker, sandbox) -> None:
    external_ids = stored_ids(tracker)
    assert len(external_ids) == len(set(external_ids)), "stored twice"
    assert sorted(external_ids) == sorted(str(entry_id) for entry_id in sandbox.entry_ids("kimai")), "lost or extra"


@pytest.mark.parametrize("k", [1, 3, 5])
def test_a_failed_download_resumes_after_its_committed_pages_and_the_next_complete_one_sees_deletions(k):
    with SandboxTrackers(seed=43, task_count=5, entry_count=ENTRY_COUNT, other_entry_count=0) as sandbox:
        tracker = sandbox_tracker(make_project(), sandbox, "kimai")
        sandbox.inject("kimai", status=503, every=k + 1, count=1, path="/api/timesheets")  # page k + 1 fails
        with pytest.raises(TransientError, match="HTTP 503"):
            tracker_download(tracker_id=str(tracker.id))
        assert len(stored_ids(tracker)) == 500 * k, "the pages before the failure are committed"

        sandbox.reset_stats()
        resumed = tracker_download(tracker_id=str(tracker.id))

        assert resumed["resumed"] is True and resumed["full"] is False
        assert sandbox.stats["kimai"]["requests"] <= PAGES - k + 2
        assert_exact(tracker, sandbox)

        deleted = sandbox.entry_ids("kimai")[0]
        sandbox.delete_entry("kimai", deleted)
        complete = tracker_download(tracker_id=str(tracker.id))

        assert complete["full"] is True and complete["resumed"] is False
        assert complete["deleted"] == 1
        assert_exact(tracker, sandbox)


def test_a_download_whose_pool_process_is_killed_resumes_on_redelivery(clean_queues):
    with SandboxTrackers(seed=47, task_count=5, entry_count=ENTRY_COUNT, other_entry_count=0) as sandbox:
        sandbox.set_latency(1500, kind="kimai")  # commits every 2 s: after about every second page
        tracker = sandbox_tracker(make_project(), sandbox, "kimai")
        with Worker(pool="prefork", concurrency=1, env=FAST_RETRIES) as worker:
            worker.wait_ready(app)
            handle = start_job("download_tracker", tracker_id=str(tracker.id))
            wait_for(lambda: len(stored_ids(tracker)) >= 1000, timeout=60, what="pages committed")
            (child,) = worker.pool_children()
            child.send_signal(signal.SIGKILL)
            sandbox.set_latency(0, kind="kimai")  # the resumed run need not be slow
            committed_pages = len(stored_ids(tracker)) // 500
            requests_before = sandbox.stats["kimai"]["requests"]

            outcome = handle.wait(timeout=90)

            assert outcome.ok, worker.output()
            assert outcome.summary["resumed"] is True
            resumed_requests = sandbox.stats["kimai"]["requests"] - requests_before
            assert resumed_requests <= PAGES - committed_pages + 2, (resumed_requests, committed_pages)
            assert_exact(tracker, sandbox)
            assert log_count([worker], "downloaded kimai-tracker") == 1
            print(
                f"killed after {committed_pages} committed pages of {PAGES}; resumed with {resumed_requests} requests"
            )


def test_a_project_update_whose_third_tracker_fails_keeps_the_others_done(settings):
    from siisurit.jobs import InProcessJobRunner, JobRequest
    from siisurit.models import Task
    from tests.processes import free_port

    settings.SII_HTTP_ATTEMPTS, settings.SII_HTTP_RETRY_BACKOFF_IN_SECONDS = 2, 0
    with SandboxTrackers(seed=53, task_count=40, entry_count=300) as sandbox:
        project = make_project()
        trackers = [sandbox_tracker(project, sandbox, kind) for kind in ("github", "gitlab", "jira", "kimai")]
        broken = trackers[2]
        broken.api_location = f"http://127.0.0.1:{free_port()}/browse/SHOP-1"  # nobody listens there
        broken.save()

        outcome = InProcessJobRunner().start(JobRequest("update_project", {"project_id": str(project.id)})).wait()

        assert outcome.state == "FAILURE"
        assert "jira tracker 'jira-tracker': gave up after 2 attempts" in outcome.error, outcome.error
        assert Task.objects.filter(tracker=trackers[0]).count() == len(sandbox.task_codes("github"))
        assert Task.objects.filter(tracker=trackers[1]).count() == len(sandbox.task_codes("gitlab"))
        assert WorkEntry.objects.filter(tracker=trackers[3]).count() == len(sandbox.entry_ids("kimai"))
        for tracker in (trackers[0], trackers[1], trackers[3]):
            tracker.refresh_from_db()
            assert tracker.last_downloaded_at is not None, f"{tracker.name} is done"
