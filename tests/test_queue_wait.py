"""Waiting for a job: when the queue's Redis goes away mid-wait, the command gets an outcome, not a traceback."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from celery import Celery

from tests.processes import free_port
from workers.dispatch import CeleryJobHandle
from workers.task_base import PROGRESS_STATE

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


@pytest.fixture
def doomed_redis_url() -> Iterator[str]:
    """A Redis server of this test's own, which the test may shut down."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""], stdout=subprocess.DEVNULL
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:  # wait until it accepts connections
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.kill()
        server.wait()


def test_wait_returns_an_outcome_when_redis_goes_away_mid_wait(doomed_redis_url):
    backend = f"workers.result_backend:OneTripRedisBackend+{doomed_redis_url}"
    app = Celery("doomed", broker=doomed_redis_url, backend=backend)
    # Give up reconnecting after two tries instead of Celery's twenty (the behaviour is the same).
    app.conf.result_backend_transport_options = {"retry_policy": {"max_retries": 2}}
    job_id = "job-waiting-for-a-vanishing-redis"
    seen = []

    def progress(current: int, total: int | None, what: str) -> None:
        seen.append(what)
        with contextlib.suppress(redis.ConnectionError):  # the server closes the connection as it goes
            redis.Redis.from_url(doomed_redis_url).shutdown(nosave=True)

    def publish_progress_once_subscribed() -> None:
        client = redis.Redis.from_url(doomed_redis_url)
        key = app.backend.get_key_for_task(job_id)
        while not dict(client.pubsub_numsub(key)).get(key):  # until the waiter listens
            time.sleep(0.01)
        app.backend.store_result(job_id, {"current": 1, "total": 3, "what": "downloading"}, PROGRESS_STATE)

    publisher = threading.Thread(target=publish_progress_once_subscribed, daemon=True)
    publisher.start()
    outcome = CeleryJobHandle(app, job_id).wait(timeout=30, progress=progress)
    publisher.join(timeout=10)

    assert seen == ["downloading"]  # the waiter was following the job when Redis went away
    assert not outcome.ok
    assert outcome.state == "UNKNOWN"
    assert "lost the connection" in outcome.error and job_id in outcome.error
