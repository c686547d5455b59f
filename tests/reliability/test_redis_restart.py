"""A Redis restart (graceful or SIGKILL) while a worker runs a job: the worker lives on, the job completes once."""

from __future__ import annotations

import time

import pytest
from celery import Celery

from sandbox import SandboxTrackers
from siisurit.models import WorkEntry
from tests.processes import wait_for
from tests.reliability.conftest import FAST_RETRIES, log_count, sandbox_project
from tests.reliability.processes import RedisServer, Worker
from tests.settings import TEST_BROKER_DATABASE

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENTRY_COUNT = 1200  # 3 pages of 500 in Kimai, 400 ms each
REDIS_DOWN_SECONDS = 2


@pytest.mark.parametrize("graceful", [True, False], ids=["sigterm", "sigkill"])
@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_a_redis_restart_while_a_job_runs_keeps_the_worker_and_runs_the_job_once(tmp_path, graceful, pool):
    with SandboxTrackers(seed=37, task_count=5, entry_count=ENTRY_COUNT, other_entry_count=0) as sandbox:
        sandbox.set_latency(400, kind="kimai")
        tracker = sandbox_project(sandbox).trackers.get()
        # The test's OWN Redis server holds the queue and the results; the download cache stays on the test Redis.
        with RedisServer(tmp_path) as server:
            broker_url = server.url.replace("/0", f"/{TEST_BROKER_DATABASE}")
            environment = {**FAST_RETRIES, "SII_REDIS_URL": broker_url, "SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS": "8"}
            sender = Celery(broker=broker_url, backend=broker_url)
            with Worker(pool=pool, concurrency=2, env=environment) as worker:
                worker.wait_ready_by_log()
                result = sender.send_task(
                    "tasks.download.download_tracker", kwargs={"tracker_id": str(tracker.id)}, queue="download"
                )
                wait_for(lambda: sandbox.stats["kimai"]["requests"] >= 2, timeout=30, what="download half way")

                server.stop(graceful=graceful)
                time.sleep(REDIS_DOWN_SECONDS)  # an outage, not an event to await
                server.start()

                assert result.get(timeout=60)["items"] == ENTRY_COUNT
                wait_for(lambda: worker.output().count("Connected to ") >= 2, timeout=30, what="reconnected")
                requests_after = sandbox.stats["kimai"]["requests"]
                # Longer than the visibility timeout plus a restore sweep: an unacknowledged message would be back.
                time.sleep(12)

                assert worker.is_running(), worker.output()
                assert "Unrecoverable error" not in worker.output()
                assert sandbox.stats["kimai"]["requests"] == requests_after, "the finished job ran again"
                assert log_count([worker], "downloaded kimai-tracker") == 1, worker.output()
                assert server.client(TEST_BROKER_DATABASE).hlen("unacked") == 0
                # ... and the worker goes on taking jobs.
                again = sender.send_task(
                    "tasks.download.download_tracker", kwargs={"tracker_id": str(tracker.id)}, queue="download"
                )
                assert again.get(timeout=60)["tracker"] == "kimai-tracker"
        external_ids = list(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", flat=True))
        assert len(external_ids) == len(set(external_ids)) == ENTRY_COUNT
