"""What the queue is doing, for `manage.py jobs`: live workers, queue lengths, and the jobs that need attention
(retrying, failed), run now, or ended recently, each once."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from celery import Celery, states

from siisurit.ids import uuid7_seconds
from siisurit.jobs import QUEUES
from workers.dispatch import consumed_queues
from workers.task_base import PROGRESS_STATE, progress_text, retry_text

# kombu's Redis transport keeps each priority of a queue in its own list: `name`, `name\x06\x163`, ...
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)
_RESULT_KEY_PATTERN = "celery-task-meta-*"
ATTENTION_STATES = (states.RETRY, states.FAILURE)
RUNNING_STATES = (states.STARTED, PROGRESS_STATE)


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


def stored_jobs(app: Celery) -> list[dict[str, Any]]:
    """Every job state in the result backend, newest first."""
    client = app.backend.client
    keys = list(client.scan_iter(match=_RESULT_KEY_PATTERN, count=1000))
    metas = []
    for start in range(0, len(keys), 500):
        for raw in client.mget(keys[start : start + 500]):
            if raw:
                metas.append(json.loads(raw))
    metas.sort(key=lambda meta: meta.get("date_done") or "", reverse=True)
    return [_job_from_meta(app, meta) for meta in metas]


def _job_name(app: Celery, task_name: str | None) -> str:
    task = app.tasks.get(task_name or "")
    return getattr(task, "job_name", "") or task_name or "?"


def _since_enqueued(job_id: str | None, now: float) -> float | None:
    enqueued = uuid7_seconds(job_id) if job_id else None
    return round(now - enqueued, 1) if enqueued else None


def _took(job_id: str | None, date_done: str | None) -> float | None:
    """Seconds from enqueueing to the end, over all attempts (None when either is unknown)."""
    enqueued = uuid7_seconds(job_id) if job_id else None
    if not (enqueued and date_done):
        return None
    done = datetime.fromisoformat(date_done)
    done = done if done.tzinfo else done.replace(tzinfo=UTC)
    return round(max(0.0, done.timestamp() - enqueued), 1)


def _job_from_meta(app: Celery, meta: dict[str, Any]) -> dict[str, Any]:
    state = meta.get("status", "")
    result = meta.get("result")
    retries = meta.get("retries") or 0
    job: dict[str, Any] = {
        "job_id": meta.get("task_id"),
        "name": meta.get("name"),
        "job": _job_name(app, meta.get("name")),
        "kwargs": meta.get("kwargs") or {},
        "state": state,
        "updated_at": meta.get("date_done"),
        "since_enqueued_seconds": _since_enqueued(meta.get("task_id"), time.time()),
        "worker": meta.get("worker"),
        "retries": retries,
        "attempts": retries + 1,
        "runtime_seconds": None,
        "progress": None,
        "retry": None,
        "error": "",
        "detail": "",
    }
    if state == PROGRESS_STATE and isinstance(result, dict):
        job["progress"] = {key: result.get(key) for key in ("current", "total", "what")}
        job["detail"] = progress_text(result.get("current", 0), result.get("total"), result.get("what", ""))
    elif state == states.SUCCESS and isinstance(result, dict):
        job["runtime_seconds"] = result.get("duration_seconds")
        job["retries"] = result.get("retries", retries)
        job["attempts"] = job["retries"] + 1
    elif state in ATTENTION_STATES and isinstance(result, dict):
        job["error"] = f"{result.get('exc_type', 'Error')}: {_exception_text(result.get('exc_message'))}"
        job["detail"] = job["error"]
    if state in states.READY_STATES:
        job["took_seconds"] = _took(meta.get("task_id"), meta.get("date_done"))
    if state == states.RETRY and isinstance(meta.get("retry"), dict):
        job["retry"] = meta["retry"]
        job["attempts"] = meta["retry"]["attempt"]  # the attempt that comes next
        job["detail"] = retry_text(meta["retry"])
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
                    "job": _job_name(app, task.get("name")),
                    "kwargs": task.get("kwargs") or {},
                    "state": "RUNNING",
                    "worker": worker,
                    "started_at": datetime.fromtimestamp(started).isoformat() if started else None,
                    "runtime_seconds": round(now - started, 1) if started else None,
                    "since_enqueued_seconds": _since_enqueued(task["id"], now),
                    "attempts": 1,
                    "progress": None,
                    "detail": "",
                }
            )
    return running


def queue_status(*, limit: int = 20) -> dict[str, Any]:
    """Everything `manage.py jobs` shows: jobs needing attention first, then running ones, then recent ones."""
    from workers.app import app

    running = running_jobs(app)
    stored = stored_jobs(app)
    stored_by_id = {job["job_id"]: job for job in stored}
    for job in running:
        if (meta := stored_by_id.get(job["job_id"])) is not None:
            job.update(progress=meta["progress"], attempts=meta["attempts"], detail=meta["detail"])
    running_ids = {job["job_id"] for job in running}
    # A job a worker runs but did not report within the inspect timeout is still running: shown once.
    running += [job for job in stored if job["state"] in RUNNING_STATES and job["job_id"] not in running_ids]
    attention = [job for state in ATTENTION_STATES for job in stored if job["state"] == state]  # retrying first
    recent = [job for job in stored if job["state"] not in (*ATTENTION_STATES, *RUNNING_STATES)]
    return {
        "workers": consumed_queues(app),
        "queues": queue_lengths(app),
        "attention": attention[:limit],
        "running": running,
        "recent": recent[:limit],
    }
