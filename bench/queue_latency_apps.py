"""Celery apps that bench/queue_latency.py compares with the project's own (`celery -A workers`).

BENCH_APP=defaults celery -A bench.queue_latency_apps worker ...  Celery's defaults, broker+results BENCH_BROKER_URL
BENCH_APP=variant celery -A bench.queue_latency_apps worker ...   the project's app with one thing changed:
    BENCH_OVERRIDES  JSON of Celery settings to override (e.g. {"task_track_started": false})
    BENCH_WITHOUT    comma-separated: `job-log-context` (workers/signals.py), `django-fixup` (its per-task hooks)
"""

from __future__ import annotations

import json
import os
import weakref
from typing import Any

from celery import Celery, signals

_BROKER_URL = os.environ["BENCH_BROKER_URL"]  # set by bench/queue_latency.py: a scratch database of the project's Redis
_WITHOUT = {name for name in os.environ.get("BENCH_WITHOUT", "").split(",") if name}


def _defaults() -> Celery:
    return Celery("bench-defaults", broker=_BROKER_URL, backend=_BROKER_URL)


def _variant() -> Celery:
    from workers.app import app

    app.conf.update(json.loads(os.environ.get("BENCH_OVERRIDES") or "{}"))
    if "job-log-context" in _WITHOUT:
        from workers import signals as job_signals

        signals.task_prerun.disconnect(job_signals.enter_job_log_context)
        signals.task_postrun.disconnect(job_signals.leave_job_log_context)
    return app


def _disconnect_django_fixup(**_: Any) -> None:
    """In each pool process: drop the receivers of Celery's Django fix-up from task_prerun/task_postrun."""
    for signal in (signals.task_prerun, signals.task_postrun):
        for _key, receiver in list(signal.receivers):
            function = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
            owner = getattr(function, "__self__", None)
            if type(owner).__name__ == "DjangoWorkerFixup":
                signal.disconnect(function)
        signal.sender_receivers_cache.clear()


if "django-fixup" in _WITHOUT:
    signals.worker_process_init.connect(_disconnect_django_fixup, weak=False)

app = _variant() if os.environ.get("BENCH_APP") == "variant" else _defaults()
