"""Periodic jobs (celery beat), each configurable by one environment variable holding cron text in UTC.

The value `disable` turns an entry off. Fields: minute hour day-of-month month day-of-week (0 = Sunday).

* `update-all-projects` (SII_BEAT_UPDATE_PROJECTS, default `0 * * * *`, hourly): enqueue an update of every
  project: downloads of its trackers, matching, and the report views at the end of each update.
* `clear-caches` (SII_BEAT_CLEAR_CACHES, default `30 2 * * *`, nightly): forget downloaded API responses, so that
  every night's updates fetch fresh data and the cache does not grow without bound.
* `rebuild-reports` (SII_BEAT_REBUILD_REPORTS, default `45 2 * * *`, nightly): rebuild the report views as a
  safety net (each project update rebuilds them too).

Every entry `expires` before its next run, so after an outage a backlog of the same job does not pile up.
Two beat processes started by mistake do not double the jobs: see workers/beat.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from celery.schedules import crontab
from django.conf import settings

from siisurit.environment import ConfigurationError
from siisurit.jobs.catalog import CLEAR_CACHES, REBUILD_REPORTS, UPDATE_ALL_PROJECTS

DISABLED = "disable"
# (entry name, task name, setting holding its cron text)
BEAT_ENTRIES = (
    ("update-all-projects", UPDATE_ALL_PROJECTS.task_name, "SII_BEAT_UPDATE_PROJECTS"),
    ("clear-caches", CLEAR_CACHES.task_name, "SII_BEAT_CLEAR_CACHES"),
    ("rebuild-reports", REBUILD_REPORTS.task_name, "SII_BEAT_REBUILD_REPORTS"),
)
# How far ahead to look for the shortest gap between two runs of a cron entry.
_GAP_HORIZON = timedelta(days=8)
_FALLBACK_EXPIRY_SECONDS = 24 * 3600


def cron_schedule(text: str, *, variable: str) -> crontab | None:
    """A crontab from cron text (5 fields, UTC), or None for `disable`."""
    text = text.strip()
    if text.lower() == DISABLED:
        return None
    fields = text.split()
    if len(fields) != 5:
        raise ConfigurationError(f"{variable} must be cron text with 5 fields or {DISABLED!r}, not {text!r}")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
        )
    except ValueError as error:
        raise ConfigurationError(f"{variable}: invalid cron text {text!r} ({error})") from None


def _matches(schedule: crontab, moment: datetime) -> bool:
    return (
        moment.minute in schedule.minute
        and moment.hour in schedule.hour
        and moment.day in schedule.day_of_month
        and moment.month in schedule.month_of_year
        and (moment.weekday() + 1) % 7 in schedule.day_of_week
    )


def cron_next_run(schedule: crontab, *, after: datetime) -> datetime:
    """The first run of `schedule` in a minute after the minute of `after` (UTC)."""
    moment = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = moment + timedelta(days=366)
    while moment < end:
        if _matches(schedule, moment):
            return moment
        moment += timedelta(minutes=1)
    raise ConfigurationError(f"cron schedule {schedule} never runs")


def shortest_gap_seconds(schedule: crontab, *, start: datetime | None = None) -> float | None:
    """The shortest time between two consecutive runs within the next days, or None if it runs less often."""
    moment = (start or datetime.now(UTC)).replace(second=0, microsecond=0)
    previous: datetime | None = None
    shortest: float | None = None
    end = moment + _GAP_HORIZON
    while moment < end:
        if _matches(schedule, moment):
            if previous is not None:
                gap = (moment - previous).total_seconds()
                shortest = gap if shortest is None else min(shortest, gap)
            previous = moment
        moment += timedelta(minutes=1)
    return shortest


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Celery's `beat_schedule` from the SII_BEAT_* settings; disabled entries are left out."""
    entries = {}
    for name, task, variable in BEAT_ENTRIES:
        schedule = cron_schedule(getattr(settings, variable), variable=variable)
        if schedule is None:
            continue
        gap = shortest_gap_seconds(schedule) or _FALLBACK_EXPIRY_SECONDS
        entries[name] = {"task": task, "schedule": schedule, "options": {"expires": round(gap * 0.9)}}
    return entries
