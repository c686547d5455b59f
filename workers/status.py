"""What the queue is doing, for `manage.py jobs`: live workers, queue lengths, running and recent jobs."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from celery import Celery

from siisurit.jobs import QUEUES
from workers.dispatch import consumed_queues

# kombu's Redis transport keeps each priority of a queue in its own list: `name`, `name\x06\x163`, ...
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)
_RESULT_KEY_PATTERN = "celery-task-meta-*"


def queue_lengths(app: Celery) -> dict[str, int]:
    """Jobs waiting in each queue (not counting jobs a worker already took)."""
    with app.connection_for_read() as connection:
        client = connection.default_channel.client
        return {
            queue: sum(
                client.llen(queue if step == 0 else f"{queue}{_PRIORITY_SEPARATOR}{step}") for step in _PRIORITY_STEPS
            )
            for queue in QUEUES
        }


def recent_jobs(app: Celery, *, limit: int) -> list[dict[str, Any]]:
    """The `limit` most recently updated jobs in the result backend, newest first."""
    client = app.backend.client
    keys = list(client.scan_iter(match=_RESULT_KEY_PATTERN, count=1000))
    metas = []
    for start in range(0, len(keys), 500):
        for raw in client.mget(keys[start : start + 500]):
            if raw:
                metas.append(json.loads(raw))
    metas.sort(key=lambda meta: meta.get("date_done") or "", reverse=True)
    return [_job_from_meta(meta) for meta in metas[:limit]]


def _job_from_meta(meta: dict[str, Any]) -> dict[str, Any]:
    state = meta.get("status", "")
    result = meta.get("result")
    job: dict[str, Any] = {
        "job_id": meta.get("task_id"),
        "name": meta.get("name"),
        "kwargs": meta.get("kwargs") or {},
        "state": state,
        "updated_at": meta.get("date_done"),
        "worker": meta.get("worker"),
        "retries": meta.get("retries", 0),
        "runtime_seconds": None,
        "progress": None,
        "error": "",
    }
    if state == "PROGRESS" and isinstance(result, dict):
        job["progress"] = {key: result.get(key) for key in ("current", "total", "what")}
    elif state == "SUCCESS" and isinstance(result, dict):
        job["runtime_seconds"] = result.get("duration_seconds")
        job["retries"] = result.get("retries", job["retries"])
    elif state in ("FAILURE", "RETRY") and isinstance(result, dict):
        job["error"] = f"{result.get('exc_type', 'Error')}: {_exception_text(result.get('exc_message'))}"
    return job


def _exception_text(message: Any) -> str:
    if isinstance(message, list | tuple):
        return " ".join(str(part) for part in message)
    return str(message or "")


def running_jobs(app: Celery, *, timeout: float = 1.0) -> list[dict[str, Any]]:
    """Jobs the live workers run right now, with their runtime."""
    replies = app.control.inspect(timeout=timeout).active() or {}
    now = time.time()
    running = []
    for worker, tasks in replies.items():
        for task in tasks:
            started = task.get("time_start")
            running.append(
                {
                    "job_id": task["id"],
                    "name": task.get("name"),
                    "kwargs": task.get("kwargs") or {},
                    "state": "RUNNING",
                    "worker": worker,
                    "started_at": datetime.fromtimestamp(started).isoformat() if started else None,
                    "runtime_seconds": round(now - started, 1) if started else None,
                }
            )
    return running


def queue_status(*, limit: int = 20) -> dict[str, Any]:
    """Everything `manage.py jobs` shows."""
    from workers.app import app

    running = running_jobs(app)
    recent = recent_jobs(app, limit=limit)
    progress_by_id = {job["job_id"]: job["progress"] for job in recent if job["progress"]}
    for job in running:
        job["progress"] = progress_by_id.get(job["job_id"])
    return {
        "workers": consumed_queues(app),
        "queues": queue_lengths(app),
        "running": running,
        "recent": recent,
    }
