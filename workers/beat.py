"""Beat's scheduler: two beat processes started by mistake send each periodic job only once per period.

Before sending an entry, beat claims the entry's current period in Redis with SET NX and an expiry: the key names
the entry and the time of its *next* run, which every beat computes the same way for the same period (whichever
second within the period it ticks). The first beat to claim it sends the job; any other beat finds the key taken and
drops its copy. The key expires shortly after the next run, so nothing is left behind. A lock on "being the beat"
would need renewal and failover; a per-period claim needs neither.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import redis
from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import crontab, schedule
from django.conf import settings

from beat_schedule import cron_next_run

logger = logging.getLogger(__name__)

CLAIM_KEY_PREFIX = "siisurit:beat:"
_CLAIM_MARGIN_SECONDS = 60
#: Touched on every tick (at least every `beat_max_loop_interval`, 300 s), beside the schedule file: the container
#: health check reads its age.
HEARTBEAT_FILENAME = "heartbeat"


def period_claim(entry: ScheduleEntry, now: datetime) -> tuple[str, int]:
    """The claim key for the period of `entry` that `now` falls in, and how long it must live (seconds)."""
    if isinstance(entry.schedule, crontab):
        next_run = cron_next_run(entry.schedule, after=now)
        ttl = (next_run - now).total_seconds()
        period = next_run.strftime("%Y-%m-%dT%H:%MZ")
    elif isinstance(entry.schedule, schedule):
        seconds = max(1.0, entry.schedule.run_every.total_seconds())
        index = math.floor(now.timestamp() / seconds)
        ttl = (index + 1) * seconds - now.timestamp()
        period = str(index)
    else:
        raise TypeError(f"beat entry {entry.name}: unsupported schedule {entry.schedule!r}")
    return f"{CLAIM_KEY_PREFIX}{entry.name}:{period}", math.ceil(ttl) + _CLAIM_MARGIN_SECONDS


class DedupeScheduler(PersistentScheduler):
    """PersistentScheduler that claims each entry's period in Redis before sending it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Create the schedule file's folder: otherwise beat fails to open its schedule file (paperless-ngx #8429).
        filename = kwargs.get("schedule_filename") or settings.CELERY_BEAT_SCHEDULE_FILENAME
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        self.heartbeat_path = Path(filename).parent / HEARTBEAT_FILENAME
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        seconds_to_next_tick = super().tick(*args, **kwargs)
        self.heartbeat_path.touch()
        return seconds_to_next_tick

    @cached_property
    def claims(self) -> redis.Redis:
        return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=5, socket_timeout=10)

    def claim_period(self, entry: ScheduleEntry) -> bool:
        """True if this beat may send `entry` for the current period (no other beat did)."""
        key, ttl = period_claim(entry, entry.default_now())
        return bool(self.claims.set(key, f"{socket.gethostname()}:{os.getpid()}", nx=True, ex=ttl))

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        if not self.claim_period(entry):
            logger.info("Beat: %s was already sent for this period by another beat; not sending it again", entry.name)
            return
        super().apply_entry(entry, producer=producer)
