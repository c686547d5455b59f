"""Load: 200 projects x 3 trackers updated by two worker processes; results stay in Redis, and expire."""

from __future__ import annotations

import json
import time

import pytest

from sandbox import SandboxTrackers
from siisurit.jobs import QUEUES
from siisurit.models import Task, WorkEntry
from tests.factories import make_organization, make_project
from tests.reliability.conftest import FAST_RETRIES, sandbox_tracker, start_job
from tests.reliability.processes import Worker
from tests.worker import redis_test_client
from workers.app import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PROJECTS = 200
KINDS = ("kimai", "github", "jira")
RESULT_EXPIRES = 3600


@pytest.mark.slow
def test_two_workers_update_200_projects_and_every_result_expires(clean_queues):
    environment = {**FAST_RETRIES, "SII_JOB_RESULT_EXPIRES_IN_SECONDS": str(RESULT_EXPIRES)}
    with SandboxTrackers(seed=37, task_count=4, entry_count=6, other_entry_count=0) as sandbox:
        organization = make_organization(code="load")
        projects = [make_project(organization, code=f"p{number:03}") for number in range(PROJECTS)]
        for project in projects:
            for kind in KINDS:
                sandbox_tracker(project, sandbox, kind)
        with (
            Worker(pool="prefork", concurrency=2, env=environment) as first,
            Worker(pool="prefork", concurrency=2, env=environment) as second,
        ):
            first.wait_ready(app)
            second.wait_ready(app)
            started = time.monotonic()
            handles = [start_job("update_project", project_id=str(project.id)) for project in projects]

            outcomes = [handle.wait(timeout=max(5.0, 150 - (time.monotonic() - started))) for handle in handles]

            elapsed = time.monotonic() - started
            assert [outcome.state for outcome in outcomes] == ["SUCCESS"] * PROJECTS, next(
                outcome.error for outcome in outcomes if not outcome.ok
            )
            assert "update_project" in first.output() and "update_project" in second.output(), "both workers worked"
    assert Task.objects.filter(tracker__project__organization=organization).count() == PROJECTS * 2 * 4
    assert WorkEntry.objects.filter(tracker__project__organization=organization).count() == PROJECTS * 6
    client = redis_test_client()
    result_keys = list(client.scan_iter(match="celery-task-meta-*"))
    assert len(result_keys) == PROJECTS, "one result per job"
    for key in result_keys:
        meta = json.loads(client.get(key))
        assert meta["status"] == "SUCCESS" and meta["result"]["project_id"]
        assert 0 < client.ttl(key) <= RESULT_EXPIRES, f"{key!r} does not expire"
    queue_structures = {*QUEUES, "unacked", "unacked_index", "unacked_mutex"}
    for key in client.scan_iter(count=1000):
        name = key.decode()
        if client.ttl(key) == -1:  # no expiry: only the queue's own bookkeeping (a few small keys) may stay
            assert name in queue_structures or name.startswith("_kombu.binding"), f"{name} never expires"
    print(f"\n{PROJECTS} projects x {len(KINDS)} trackers in {elapsed:.1f} s")
