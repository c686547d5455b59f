"""Celery settings (namespace CELERY), merged into Django settings so there is one settings source."""

from __future__ import annotations

from typing import Any

from siisurit.environment import Environment


def celery_settings(env: Environment, *, broker_url: str, job_timeout: int) -> dict[str, Any]:
    """The CELERY_* settings for this environment."""
    return {
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url,
        "CELERY_TASK_SERIALIZER": "json",
        "CELERY_RESULT_SERIALIZER": "json",
        "CELERY_ACCEPT_CONTENT": ["json"],
        "CELERY_TIMEZONE": "UTC",
        "CELERY_TASK_SOFT_TIME_LIMIT": job_timeout,
        "CELERY_TASK_TIME_LIMIT": job_timeout + 30,
    }
