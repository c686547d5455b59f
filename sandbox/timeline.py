"""Time span of the seeded data, European daylight saving time, and the timestamp formats of the trackers."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from functools import lru_cache

#: Seeded data lies between these instants (epoch seconds, UTC). START is a Monday.
START = calendar.timegm((2023, 1, 2, 0, 0, 0))
END = calendar.timegm((2025, 6, 30, 0, 0, 0))
SPAN = END - START
WORKDAY_START_MINUTE = 8 * 60
WORKDAY_MINUTES = 9 * 60
WORKDAYS = (SPAN // 86400) // 7 * 5


def _last_sunday(year: int, month: int) -> int:
    last_day = calendar.monthrange(year, month)[1]
    weekday = calendar.weekday(year, month, last_day)  # Monday = 0
    return last_day - (weekday + 1) % 7


@lru_cache(maxsize=4096)
def _year(days: int) -> int:
    return time.gmtime(days * 86400).tm_year


@lru_cache(maxsize=64)
def _summer_bounds(year: int) -> tuple[int, int]:
    begin = calendar.timegm((year, 3, _last_sunday(year, 3), 1, 0, 0))
    end = calendar.timegm((year, 10, _last_sunday(year, 10), 1, 0, 0))
    return begin, end


def utc_offset(epoch: int, zone_hours: int) -> int:
    """UTC offset in seconds of a European zone (``zone_hours`` = winter offset) at an instant."""
    begin, end = _summer_bounds(_year(epoch // 86400))
    return (zone_hours + (1 if begin <= epoch < end else 0)) * 3600


def workday_instant(position: float, zone_hours: int) -> int:
    """Map a position in working minutes since START (weekdays 08:00-17:00 local) to epoch seconds."""
    workday, minute = divmod(int(position), WORKDAY_MINUTES)
    day = workday // 5 * 7 + workday % 5
    local = START + day * 86400 + (WORKDAY_START_MINUTE + minute) * 60
    return local - utc_offset(local, zone_hours)


def now() -> int:
    return int(time.time())


def iso_z(epoch: int | None) -> str | None:
    """``2024-05-02T07:00:00Z`` (GitHub, Clockodo with ISO header)."""
    return None if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def iso_ms_z(epoch: int | None, millis: int = 0) -> str | None:
    """``2016-01-04T15:31:51.081Z`` (GitLab)."""
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis % 1000:03d}Z"


def jira_time(epoch: int | None) -> str | None:
    """``2021-01-17T12:34:00.000+0000`` (Jira)."""
    return None if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(epoch))


def epoch_ms(epoch: int | None) -> int | None:
    """Epoch milliseconds (YouTrack)."""
    return None if epoch is None else epoch * 1000


def local_offset_time(epoch: int | None, zone_hours: int) -> str | None:
    """``2024-05-02T09:00:00+0200`` in the given European zone (Kimai)."""
    if epoch is None:
        return None
    offset = utc_offset(epoch, zone_hours)
    days, seconds = divmod(epoch + offset, 86400)
    hours, rest = divmod(seconds, 3600)
    sign = "+" if offset >= 0 else "-"
    offset_hours, offset_minutes = divmod(abs(offset) // 60, 60)
    return f"{_day(days)}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}{sign}{offset_hours:02d}{offset_minutes:02d}"


@lru_cache(maxsize=4096)
def _day(days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(days * 86400))


def legacy_time(epoch: int | None) -> str | None:
    """``2024-05-02 07:00:00`` (Clockodo without the ISO header)."""
    return None if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def parse_instant(text: str, zone_hours: int | None = None) -> int:
    """Epoch seconds of an ISO 8601 text; without offset it is UTC, or local to ``zone_hours`` when given.

    Raises ``ValueError`` for anything unparsable.
    """
    value = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    if value.tzinfo is not None:
        return int(value.timestamp())
    naive = calendar.timegm(value.timetuple())
    if zone_hours is None:
        return naive
    return naive - utc_offset(naive - zone_hours * 3600, zone_hours)


def from_datetime(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def human_period(seconds: int | None, hours_per_day: int = 8, days_per_week: int = 5) -> str | None:
    """``1w 2d 4h 30m`` with working days and weeks, as GitLab and YouTrack present durations."""
    if seconds is None:
        return None
    minutes = seconds // 60
    parts = []
    for unit, size in (("w", hours_per_day * days_per_week * 60), ("d", hours_per_day * 60), ("h", 60), ("m", 1)):
        amount, minutes = divmod(minutes, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts) or "0m"
