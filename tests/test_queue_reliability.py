"""Reliability: a job whose worker is SIGKILLed is redelivered and completes once; results hold no secrets."""

from __future__ import annotations

import pytest
from celery.result import AsyncResult
from django.conf import settings
from kombu.utils.uuid import uuid

from siisurit.errors import PermanentError
from tests.factories import make_organization, make_project, make_tracker
from tests.worker import (
    RELEASE_ALL_KEY,
    SubprocessWorker,
    counting,
    flaky,
    redis_test_client,
    tracker_failure,
    wait_until_started,
)
from workers.app import app
from workers.deliveries import KEY_PREFIX as DELIVERIES_KEY_PREFIX

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Short enough for a test; the worker's own setting (the producer side needs none).
VISIBILITY_TIMEOUT_SECONDS = 3
TOKEN = "ghp_test_secret_token_0123456789abcdef"


def unacked_since(job_id: str) -> float | None:
    """When the broker handed job `job_id` to a worker (its score in the unacked index), or None."""
    client = redis_test_client()
    for tag, score in client.zrange("unacked_index", 0, -1, withscores=True):
        payload = client.hget("unacked", tag)
        if payload and job_id.encode() in payload:
            return score
    return None


def redis_values() -> list[bytes]:
    """Every value in the test broker database (messages, results, events), whatever the key's type."""
    client = redis_test_client()
    values: list[bytes] = []
    for key in client.scan_iter(match="*", count=1000):
        kind = client.type(key)
        if kind == b"string":
            values.append(client.get(key) or b"")
        elif kind == b"hash":
            values.extend(client.hgetall(key).values())
        elif kind == b"list":
            values.extend(client.lrange(key, 0, -1))
        elif kind == b"set":
            values.extend(client.smembers(key))
        elif kind == b"zset":
            values.extend(client.zrange(key, 0, -1))
    return values


@pytest.mark.slow
def test_job_of_a_killed_worker_is_redelivered_and_completes_once(clean_queues):
    short_visibility = {"SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS": str(VISIBILITY_TIMEOUT_SECONDS)}
    with SubprocessWorker(queues=("maintenance",), env=short_visibility) as doomed:
        result = counting.apply_async(kwargs={"key": "killed", "hold_seconds": 60})
        wait_until_started("killed")
        handed_out_at = unacked_since(result.id)
        doomed.kill()
    assert handed_out_at is not None, "the running job must be unacknowledged (acks_late)"
    # The redelivered run need not hold. A flag, not `release`: Redis might still hand a pushed "go" to the killed
    # worker's wait, on a connection it has not yet seen closed.
    redis_test_client().set(RELEASE_ALL_KEY, "go")

    # The next worker starts at once: Redis hands it the job once the visibility timeout has passed.
    with SubprocessWorker(queues=("maintenance",), env=short_visibility):
        summary = AsyncResult(result.id, app=app).get(timeout=60)

    client = redis_test_client()
    assert int(client.get("siisurit-test:killed:started")) == 2
    assert int(client.get("siisurit-test:killed:completed")) == 1
    assert summary["completed"] == 1


def test_a_job_runs_on_each_allowed_delivery_and_fails_past_the_limit(celery_worker_thread):
    maximum = settings.SII_JOB_MAX_DELIVERIES
    client = redis_test_client()
    # As if the worker had died on every earlier delivery of the job's first attempt.
    last_allowed, one_too_many = uuid(), uuid()
    client.set(f"{DELIVERIES_KEY_PREFIX}:{last_allowed}:0", maximum - 1, ex=60)
    client.set(f"{DELIVERIES_KEY_PREFIX}:{one_too_many}:0", maximum, ex=60)

    summary = counting.apply_async(kwargs={"key": "last-allowed"}, task_id=last_allowed).get(timeout=30)
    refused = counting.apply_async(kwargs={"key": "one-too-many"}, task_id=one_too_many)
    with pytest.raises(PermanentError, match="SII_JOB_MAX_DELIVERIES"):
        refused.get(timeout=30)

    assert summary["completed"] == 1
    assert client.get("siisurit-test:one-too-many:started") is None


def test_retries_do_not_count_as_deliveries(celery_worker_thread):
    failures = settings.SII_JOB_MAX_DELIVERIES + 1
    assert flaky.max_retries >= failures

    summary = flaky.apply_async(kwargs={"key": "retried-often", "failures": failures}).get(timeout=30)

    assert summary["retries"] == failures


def test_results_and_messages_in_redis_hold_no_secret(celery_worker_thread):
    tracker = make_tracker(
        make_project(make_organization(code="secretive"), code="vault"), name="github", api_token=TOKEN
    )

    result = tracker_failure.apply_async(kwargs={"tracker_id": str(tracker.id)})
    with pytest.raises(PermanentError, match="github"):
        result.get(timeout=30)

    stored = b"\n".join(redis_values())
    assert str(tracker.id).encode() in stored  # the job's arguments are ids...
    assert TOKEN.encode() not in stored  # ...and nothing anywhere holds the token
    assert TOKEN[:12].encode() not in stored


def test_a_broker_channel_sends_its_commands_through_one_client_per_connection_pool():
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second and first.ping()
        channel._disconnect_pools()  # as after a lost connection or in a forked process
        with channel.conn_or_acquire() as third:
            assert third is not first and third.connection_pool is channel.pool and third.ping()
