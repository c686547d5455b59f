"""The job queue: Celery app, settings, routing, retry policy, locks, dispatch and beat.

`workers.app` is loaded lazily so that Django's settings (which import `workers.settings`) and Celery-free modules
such as `workers.locks` never import Celery. `celery -A workers` finds the app through this attribute.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "app":
        from workers.app import app

        return app
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
