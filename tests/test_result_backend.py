"""The result backend writes a job's state in one round trip, and like Celery's never overwrites a stored SUCCESS."""

from __future__ import annotations

from celery.app.task import Context
from celery.result import AsyncResult
from kombu.utils.uuid import uuid

from workers.app import app
from workers.deliveries import delivery_count_expiry_seconds, delivery_key
from workers.result_backend import OneTripRedisBackend


def test_the_app_uses_the_one_trip_backend():
    assert isinstance(app.backend, OneTripRedisBackend)


def test_states_are_stored_with_the_result_expiry():
    backend = app.backend
    job_id = uuid()
    try:
        backend.store_result(job_id, {"pid": 1}, "STARTED")
        assert backend.get_task_meta(job_id)["status"] == "STARTED"
        backend.store_result(job_id, {"current": 1, "total": 2, "what": "x"}, "PROGRESS")
        assert backend.get_task_meta(job_id)["result"] == {"current": 1, "total": 2, "what": "x"}
        assert 0 < backend.client.ttl(backend.get_key_for_task(job_id)) <= backend.expires
    finally:
        backend.client.delete(backend.get_key_for_task(job_id))


def test_a_late_write_does_not_overwrite_success():
    backend = app.backend
    job_id = uuid()
    try:
        backend.store_result(job_id, {"done": True}, "SUCCESS")
        backend.store_result(job_id, {"pid": 1}, "STARTED")  # e.g. a redelivered copy starting
        meta = backend.get_task_meta(job_id)
        assert (meta["status"], meta["result"]) == ("SUCCESS", {"done": True})
    finally:
        backend.client.delete(backend.get_key_for_task(job_id))


def test_a_stored_value_that_is_not_json_is_overwritten():
    backend = app.backend
    job_id = uuid()
    key = backend.get_key_for_task(job_id)
    try:
        backend.client.set(key, b"\x80 not json")
        backend.store_result(job_id, None, "STARTED")
        assert backend.get_task_meta(job_id)["status"] == "STARTED"
    finally:
        backend.client.delete(key)


def test_waiting_clients_get_the_published_states():
    backend = app.backend
    job_id = uuid()
    channel = backend.get_key_for_task(job_id)
    pubsub = backend.client.pubsub()
    try:
        pubsub.subscribe(channel)
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"  # subscribed before the writes

        backend.store_result(job_id, {"current": 1, "total": 1, "what": "x"}, "PROGRESS")
        backend.store_result(job_id, {"done": True}, "SUCCESS")

        published = [pubsub.get_message(timeout=5) for _ in range(2)]
        statuses = [backend.decode_result(message["data"])["status"] for message in published]
        assert statuses == ["PROGRESS", "SUCCESS"]
        assert AsyncResult(job_id, app=app).get(timeout=10) == {"done": True}
    finally:
        pubsub.close()
        backend.client.delete(channel)


def test_the_started_write_counts_the_delivery_of_the_attempt_on_its_request():
    backend = app.backend
    job_id = uuid()
    counter = delivery_key(task_id=job_id, retries=0)
    try:
        first, second = Context(id=job_id, retries=0), Context(id=job_id, retries=0)
        backend.store_result(job_id, {"pid": 1}, "STARTED", request=first)
        backend.store_result(job_id, {"done": True}, "SUCCESS", request=first)
        backend.store_result(job_id, {"pid": 2}, "STARTED", request=second)  # a redelivered copy
        assert (first.deliveries, second.deliveries) == (1, 2)
        assert backend.get_task_meta(job_id)["status"] == "SUCCESS"
        assert 0 < backend.client.ttl(counter) <= delivery_count_expiry_seconds()
        retry = Context(id=job_id, retries=1)
        backend.store_result(job_id, {"pid": 3}, "STARTED", request=retry)
        assert retry.deliveries == 1  # a retry is an attempt of its own
    finally:
        backend.client.delete(backend.get_key_for_task(job_id), counter, delivery_key(task_id=job_id, retries=1))
