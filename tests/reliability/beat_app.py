"""The production Celery app with a beat schedule that ticks every second (`celery -A tests.reliability.beat_app beat`).

The production entries are cron entries (at most once a minute); a one-second interval lets a test see several
periods of two beat processes in a few seconds, through the production scheduler (workers.beat.DedupeScheduler).
"""

from workers.app import app

BEAT_INTERVAL_SECONDS = 1.0
app.conf.beat_schedule = {
    "clear-caches": {"task": "tasks.maintenance.clear_caches", "schedule": BEAT_INTERVAL_SECONDS},
}

__all__ = ["app"]
