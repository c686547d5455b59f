"""The trivial job of bench/queue_latency.py, loaded into a worker with `--include bench.queue_latency_tasks`.

The task's first line takes the start time; everything after it (reporting the times to the bench through a Redis
list) is outside the measured latency. With BENCH_PROBE=1 the worker also notes when each stage between receiving
the message and the task's first line happened (all `time.time()` on one machine, comparable across processes):

    received      the worker's main process parsed the message (signal task_received)
    prerun        the pool process began the task_prerun signal (its first receiver)
    prerun_done   ... and finished it (its last receiver: after Celery's Django fix-up and workers/signals.py)
    started_saved the STARTED state is in the result backend (task_track_started)
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import redis
from celery import shared_task, signals

STARTS_KEY = "siisurit-bench:starts"
PROBE = os.environ.get("BENCH_PROBE") == "1"

_client: redis.Redis | None = None
_stamps: dict[str, float] = {}


def _starts_client(broker_url: str) -> redis.Redis:
    global _client
    if _client is None:  # one per pool process, made after the fork
        _client = redis.Redis.from_url(broker_url)
    return _client


@shared_task(bind=True, name="bench.trivial")
def trivial(self: Any, sent_at: float) -> float:
    started_at = time.time()
    report = {"sent_at": sent_at, "started_at": started_at}
    if PROBE:
        report.update(_stamps, received=getattr(self.request, "bench_received_at", None))
        _stamps.clear()
    _starts_client(self.app.conf.broker_url).rpush(STARTS_KEY, json.dumps(report))
    return started_at


if PROBE:

    @signals.task_received.connect
    def _note_received(request: Any, **_: Any) -> None:
        # The main process hands this dict to the pool process as the task's request: no I/O on the measured path.
        request._request_dict["bench_received_at"] = time.time()

    def _note_prerun(**_: Any) -> None:
        _stamps["prerun"] = time.time()

    def _note_prerun_done(**_: Any) -> None:
        _stamps["prerun_done"] = time.time()

    @signals.worker_process_init.connect
    def _wrap_pool_process(**_: Any) -> None:
        """In each pool process: probes first and last among task_prerun's receivers, and around STARTED's write."""
        prerun = signals.task_prerun
        prerun.connect(_note_prerun, weak=False, dispatch_uid="bench-prerun")
        prerun.receivers.insert(0, prerun.receivers.pop())
        prerun.connect(_note_prerun_done, weak=False, dispatch_uid="bench-prerun-done")
        prerun.sender_receivers_cache.clear()

        from celery import current_app

        backend = current_app.backend
        store_result = backend.store_result

        def timed_store_result(task_id: str, result: Any, state: str, *args: Any, **kwargs: Any) -> Any:
            value = store_result(task_id, result, state, *args, **kwargs)
            if state == "STARTED":
                _stamps["started_saved"] = time.time()
            return value

        backend.store_result = timed_store_result
