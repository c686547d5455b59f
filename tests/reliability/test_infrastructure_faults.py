"""PostgreSQL connections killed mid-job, and Redis restarted while jobs are queued and running."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from django.db import connection

from sandbox import SandboxTrackers
from siisurit.models import WorkEntry
from tests.factories import make_organization, make_project
from tests.processes import child_environment, wait_for
from tests.reliability.conftest import FAST_RETRIES, log_count, sandbox_project, sandbox_tracker, start_job
from tests.reliability.processes import RedisServer, Worker
from tests.settings import TEST_BROKER_DATABASE, TEST_CACHE_DATABASE
from workers.app import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
_REPO = __import__("pathlib").Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def slow_sandbox():
    with SandboxTrackers(seed=29, task_count=5, entry_count=1500, other_entry_count=0) as trackers:
        trackers.set_latency(300, kind="kimai")
        yield trackers


def terminate_other_backends() -> int:
    """pg_terminate_backend of every other session of the test database (the worker's, its lock included)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity "
            "where datname = current_database() and pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_killed_database_connections_are_retried_and_the_download_completes_once(clean_queues, slow_sandbox):
    project = sandbox_project(slow_sandbox)
    tracker = project.trackers.get()
    with Worker(env=FAST_RETRIES) as worker:
        worker.wait_ready(app)
        handle = start_job("download_tracker", tracker_id=str(tracker.id))
        wait_for(lambda: slow_sandbox.stats["kimai"]["requests"] >= 2, timeout=20, what="download half way")

        assert terminate_other_backends() >= 1
        outcome = handle.wait(timeout=45)

        assert outcome.ok, outcome.error
        assert outcome.summary["retries"] >= 1, "the lost connection must have failed the first attempt"
        external_ids = list(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", flat=True))
        assert len(external_ids) == len(set(external_ids)) == 1500
        assert log_count([worker], "downloaded kimai-tracker") == 1


def manage(*arguments: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=_REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_redis_restart_loses_no_queued_or_running_job(clean_queues, tmp_path):
    with SandboxTrackers(seed=31, task_count=5, entry_count=600, other_entry_count=0) as sandbox:
        sandbox.set_latency(400, kind="kimai")
        organization = make_organization(code="org-restart")
        projects = [make_project(organization, code=f"p{number}") for number in range(3)]
        for project in projects:
            sandbox_tracker(project, sandbox, "kimai")
        with RedisServer(tmp_path) as server:
            environment = child_environment(
                SII_REDIS_URL=server.url.replace("/0", f"/{TEST_BROKER_DATABASE}"),
                SII_REDIS_CACHE_URL=server.url.replace("/0", f"/{TEST_CACHE_DATABASE}"),
                SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS="10",
                **FAST_RETRIES,
            )
            enqueued = manage("update_project", organization.code, "--no-wait", env=environment, timeout=60)
            assert enqueued.stdout.count("enqueued job") == len(projects), enqueued.stdout + enqueued.stderr
            with Worker(env=environment) as worker:
                worker.wait_ready_by_log()
                wait_for(lambda: sandbox.stats["kimai"]["requests"] >= 1, timeout=20, what="first update running")
                client = server.client(TEST_BROKER_DATABASE)
                assert client.llen("matching") >= 1, "jobs still queued when Redis goes down"

                server.stop()  # SIGKILL: only the append-only file survives
                started = time.monotonic()
                down = manage("update_project", organization.code, projects[0].code, "--timeout", "10",
                              env=environment, timeout=60)  # fmt: skip
                assert down.returncode != 0
                assert "Redis" in down.stderr, down.stderr
                assert time.monotonic() - started < 30, "a command must not hang while Redis is down"
                server.start()

                def all_downloaded() -> bool:
                    return all(
                        WorkEntry.objects.filter(tracker__project=project).count() == 600 for project in projects
                    )

                wait_for(all_downloaded, timeout=50, interval=0.5, what="every project updated after the restart")
                waiting = manage("update_project", organization.code, projects[1].code, "--timeout", "30",
                                 env=environment, timeout=60)  # fmt: skip

                assert waiting.returncode == 0, waiting.stdout + waiting.stderr
                assert "done" in waiting.stdout
                for project in projects:
                    external_ids = list(
                        WorkEntry.objects.filter(tracker__project=project).values_list("external_id", flat=True)
                    )
                    assert len(set(external_ids)) == len(external_ids) == 600
                assert "Connected to " in worker.output().split("Connection to broker lost")[-1] or (
                    worker.output().count("Connected to ") >= 2
                )
