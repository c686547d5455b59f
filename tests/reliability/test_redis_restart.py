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
# Down for less than the worker's second reconnect attempt (Celery's consumer retries 2 s after the loss, then 4 s
# later): the outage fails the first attempt, and the second finds Redis up again.
REDIS_DOWN_SECONDS = 1
DOWNLOAD_TASK = "tasks.download.download_tracker"


@pytest.mark.parametrize("graceful", [True, False], ids=["sigterm", "sigkill"])
@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_a_redis_restart_while_a_job_runs_keeps_the_worker_and_runs_the_job_once(tmp_path, graceful, pool):
    with SandboxTrackers(seed=37, task_count=5, entry_count=ENTRY_COUNT, other_entry_count=0) as sandbox:
        sandbox.set_latency(400, kind="kimai")
        tracker = sandbox_project(sandbox).trackers.get()
        # The test's OWN Redis server holds the queue and the results; the download cache stays on the test Redis.
        with RedisServer(tmp_path) as server:
            broker_url = server.url.replace("/0", f"/{TEST_BROKER_DATABASE}")
            broker = server.client(TEST_BROKER_DATABASE)
            environment = {**FAST_RETRIES, "SII_REDIS_URL": broker_url, "SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS": "8"}
            sender = Celery(broker=broker_url, backend=broker_url)
            with Worker(pool=pool, concurrency=2, env=environment) as worker:
                worker.wait_ready_by_log()
                result = sender.send_task(DOWNLOAD_TASK, kwargs={"tracker_id": str(tracker.id)}, queue="download")
                wait_for(lambda: sandbox.stats["kimai"]["requests"] >= 2, timeout=30, what="download half way")

                server.stop(graceful=graceful)
                time.sleep(REDIS_DOWN_SECONDS)  # an outage, not an event to await
                server.start()

                assert result.get(timeout=60)["items"] == ENTRY_COUNT
                wait_for(lambda: worker.output().count("Connected to ") >= 2, timeout=30, what="reconnected")
                # A finished job whose acknowledgement was lost stays in `unacked` and would run again once the
                # visibility timeout passed; one put back at the reconnect would wait in the queue. Neither: the
                # acknowledgement (sent just after the result) reaches the new connection.
                wait_for(lambda: broker.hlen("unacked") == 0, timeout=30, what="the job acknowledged")
                assert broker.llen("download") == 0, "the finished job is queued again"

                assert worker.is_running(), worker.output()
                assert "Unrecoverable error" not in worker.output()
                assert log_count([worker], "downloaded kimai-tracker") == 1, worker.output()
                # ... and the worker goes on taking jobs. A copy of the first job, had one been put back, would have
                # been received before this one.
                again = sender.send_task(DOWNLOAD_TASK, kwargs={"tracker_id": str(tracker.id)}, queue="download")
                assert again.get(timeout=60)["tracker"] == "kimai-tracker"
                assert log_count([worker], "] received") == 2, worker.output()
        external_ids = list(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", flat=True))
        assert len(external_ids) == len(set(external_ids)) == ENTRY_COUNT
