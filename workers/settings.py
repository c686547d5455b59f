"""Celery settings (namespace CELERY), merged into Django settings so there is one settings source.

This module must not import Celery: Django's settings import it, and `siisurit/` stays Celery-free.
Every `SII_*` variable read here is documented in README.md ("Configuration").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siisurit.environment import ConfigurationError, Environment

_BASE_DIR = Path(__file__).resolve().parent.parent

# Seconds a job may overrun its soft time limit (cleanup after SoftTimeLimitExceeded) before it is killed.
HARD_TIME_LIMIT_GRACE = 30

RESULT_BACKEND_CLASS = "workers.result_backend:OneTripRedisBackend"
BROKER_TRANSPORT = "workers.broker:Transport"


def celery_settings(env: Environment, *, broker_url: str, job_timeout: int) -> dict[str, Any]:
    """The CELERY_* settings (and the queue's own SII_* settings) for this environment."""
    hard_time_limit = job_timeout + HARD_TIME_LIMIT_GRACE
    retry_backoff_max = env.int("SII_JOB_RETRY_BACKOFF_MAX_IN_SECONDS", 600, minimum=1)
    visibility_timeout = env.int(
        "SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS", hard_time_limit + retry_backoff_max + 300, minimum=1
    )
    if visibility_timeout <= hard_time_limit and env.str("SII_ENVIRONMENT", "local") in ("stage", "production"):
        raise ConfigurationError(
            f"SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS ({visibility_timeout}) must be longer than the longest job "
            f"(SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS + {HARD_TIME_LIMIT_GRACE} = {hard_time_limit}), "
            "or Redis hands running jobs to a second worker"
        )
    # Redis redelivers a message nobody acknowledged within the visibility timeout. A retry waits in the worker,
    # unacknowledged, until its countdown ends and then runs (up to the hard time limit) still unacknowledged, so
    # countdown + longest run must stay below it, or a long retry is handed to a second worker while it runs.
    retry_backoff_cap = max(1, min(visibility_timeout // 2, visibility_timeout - hard_time_limit))
    retry_backoff_max = min(retry_backoff_max, retry_backoff_cap)
    redis_transport_options = {
        "visibility_timeout": visibility_timeout,
        # How often a worker looks for messages of dead workers to redeliver (kombu's default sweeps every
        # 10 s x 10 calls); a tenth of the visibility timeout keeps redelivery close to it.
        "unacked_restore_interval": max(1, min(10, visibility_timeout // 10)),
        "unacked_restore_throttle": 1,
    }
    # The same default as SII_DATA_DIR in siisurit/settings.py; workers/beat.py creates the folder.
    beat_schedule_dir = Path(env.str("SII_DATA_DIR", str(_BASE_DIR / ".siisurit"))) / "beat"
    return {
        "CELERY_BROKER_URL": broker_url,
        # Celery's Redis backend, writing each job state in one round trip instead of two (workers/result_backend.py).
        "CELERY_RESULT_BACKEND": f"{RESULT_BACKEND_CLASS}+{broker_url}",
        # JSON only: pickle would let anyone who can write to Redis run code in the workers.
        "CELERY_TASK_SERIALIZER": "json",
        "CELERY_RESULT_SERIALIZER": "json",
        "CELERY_ACCEPT_CONTENT": ["json"],
        "CELERY_EVENT_SERIALIZER": "json",
        # Beat's crontab entries are read in UTC, whatever the servers' local time zone.
        "CELERY_TIMEZONE": "UTC",
        "CELERY_ENABLE_UTC": True,
        # A job past the soft limit gets SoftTimeLimitExceeded (a failure with a message); past the hard limit
        # its process is killed. SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS: "a job running longer counts as failed".
        "CELERY_TASK_SOFT_TIME_LIMIT": job_timeout,
        "CELERY_TASK_TIME_LIMIT": hard_time_limit,
        # Acknowledge a message only after the job finished, so a job whose worker dies is not lost but runs again
        # (jobs are idempotent: downloads upsert, matching and reports recompute).
        "CELERY_TASK_ACKS_LATE": True,
        # ...and also re-queue it when the worker's child process is killed mid-job (OOM killer, SIGKILL); without
        # this, acks_late still acknowledges such a job as failed.
        "CELERY_TASK_REJECT_ON_WORKER_LOST": True,
        # Jobs take seconds to minutes: a worker reserves only the job it runs, so a waiting job goes to the next
        # free worker instead of queueing behind a long one in another worker's buffer.
        "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
        # kombu's Redis transport with the fix that keeps a busy worker alive through a Redis restart: running jobs
        # go on and acknowledge themselves on the new connection (workers/broker.py). Nothing is redelivered on a
        # lost connection, so there is no second copy of a running job to cancel either.
        "CELERY_BROKER_TRANSPORT": BROKER_TRANSPORT,
        "CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS": False,
        # Soft shutdown (SIGQUIT, and SIGTERM where REMAP_SIGTERM=SIGQUIT as in docker-compose.yml and Procfile.dev):
        # running jobs get this long to finish; the rest are cancelled and go back to the queue at once (late
        # acknowledgement, reject on worker lost), so another worker starts them within seconds, not after the
        # visibility timeout. Keep it below the compose stop_grace_period (40 s).
        "CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT": float(env.int("SII_WORKER_SOFT_SHUTDOWN_IN_SECONDS", 20, minimum=0)),
        "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP": True,
        # Celery's Django fix-up closes the database connections around every task unless this is set; then it
        # closes them only every that many tasks, and workers/signals.py closes them where Django would
        # (CONN_MAX_AGE, health checks): a job no longer starts a new PostgreSQL session.
        "CELERY_DB_REUSE_MAX": 1000,
        # Must exceed the longest job and the longest retry countdown (see above); set for the broker AND the
        # result backend, or Celery silently keeps its 1-hour default for one of them.
        "CELERY_BROKER_TRANSPORT_OPTIONS": redis_transport_options,
        "CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS": {"visibility_timeout": visibility_timeout},
        # Results (small summaries) stay this long for `manage.py jobs` and Flower, then Redis drops them.
        "CELERY_RESULT_EXPIRES": env.int("SII_JOB_RESULT_EXPIRES_IN_SECONDS", 7 * 24 * 3600, minimum=60),
        # Store job name, arguments (ids only) and queue with the result so `manage.py jobs` can show them.
        "CELERY_RESULT_EXTENDED": True,
        "CELERY_RESULT_BACKEND_ALWAYS_RETRY": True,
        # STARTED state, and task events for Flower (received/started/succeeded, and `sent` from the client).
        "CELERY_TASK_TRACK_STARTED": True,
        "CELERY_WORKER_SEND_TASK_EVENTS": True,
        "CELERY_TASK_SEND_SENT_EVENT": True,
        # Publishes a job's `task-received` event after handing the job to a pool process, not before (latency).
        "CELERY_WORKER_CONSUMER": "workers.consumer:Consumer",
        # Keep Django's LOGGING (its format ties each line to job and project) instead of Celery's own handlers.
        "CELERY_WORKER_HIJACK_ROOT_LOGGER": False,
        # Queues, routes and task modules come from the job declarations (workers/app.py).
        "CELERY_TASK_ROUTES": ("workers.routing.job_route",),
        "CELERY_TASK_CREATE_MISSING_QUEUES": True,
        # Two beat processes by mistake must not double the jobs: see workers/beat.py.
        "CELERY_BEAT_SCHEDULER": "workers.beat:DedupeScheduler",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(beat_schedule_dir / "celerybeat-schedule"),
        # The queue's own settings.
        "SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS": visibility_timeout,
        "SII_JOB_MAX_RETRIES": env.int("SII_JOB_MAX_RETRIES", 5, minimum=0),
        # A job whose worker process dies this many times (OOM, SIGKILL) fails instead of being redelivered again.
        "SII_JOB_MAX_DELIVERIES": env.int("SII_JOB_MAX_DELIVERIES", 3, minimum=1),
        "SII_JOB_RETRY_BACKOFF_IN_SECONDS": env.int("SII_JOB_RETRY_BACKOFF_IN_SECONDS", 10, minimum=1),
        "SII_JOB_RETRY_BACKOFF_MAX_IN_SECONDS": retry_backoff_max,
        "SII_BEAT_UPDATE_PROJECTS": env.str("SII_BEAT_UPDATE_PROJECTS", "0 * * * *"),
        "SII_BEAT_CLEAR_CACHES": env.str("SII_BEAT_CLEAR_CACHES", "30 2 * * *"),
        "SII_BEAT_REBUILD_REPORTS": env.str("SII_BEAT_REBUILD_REPORTS", "45 2 * * *"),
        "SII_FLOWER_BASIC_AUTH": env.str("SII_FLOWER_BASIC_AUTH"),
    }
