"""Clockodo: browser URL → API base and project id, entry JSON → work entry fields (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from siisurit.connectors.http import redact, without_userinfo
from siisurit.errors import PermanentError

APPLICATION_NAME = "Siisurit"
EXTERNAL_APPLICATION_MAX_LENGTH = 50
ISO_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
TIME_ENTRY_TYPE = 1
_LOCALE = re.compile(r"^[a-z]{2}(?:[_-][A-Za-z]{2})?$")
_PROJECT_QUERY_KEYS = ("projects_id", "filter[projects_id]", "project_id", "project")
_PROJECT_PATH = re.compile(r"/projects?/(?P<id>\d+)(?:/|$)")


@dataclass(frozen=True, slots=True)
class ClockodoLocation:
    base_url: str
    project_id: int

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api"


def clockodo_location_parse(url: str) -> ClockodoLocation:
    """`https://my.clockodo.com/en/projectreports/report/?id=123` (or any URL naming a projects id)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise PermanentError(f"Clockodo location {redact(url, ())!r} is not an http(s) URL")
    query = parse_qs(parts.query)
    project_id = _project_id(parts.path, query)
    if project_id is None:
        raise PermanentError(
            f"Clockodo location {redact(url, ())!r} names no project: use e.g. "
            "https://my.clockodo.com/en/projectreports/report/?id=123"
        )
    return ClockodoLocation(base_url=_base_url(parts), project_id=project_id)


def _project_id(path: str, query: dict[str, list[str]]) -> int | None:
    for key in _PROJECT_QUERY_KEYS:
        if query.get(key) and query[key][0].strip().isdigit():
            return int(query[key][0])
    if "projectreports" in path and query.get("id") and query["id"][0].strip().isdigit():
        return int(query["id"][0])
    match = _PROJECT_PATH.search(path)
    return int(match["id"]) if match else None


def _base_url(parts: Any) -> str:
    """Everything before the locale segment or the first app route (`/en/…`, `/projectreports/…`, `/api/…`)."""
    segments = [segment for segment in parts.path.split("/") if segment]
    kept: list[str] = []
    for segment in segments:
        if _LOCALE.match(segment) or segment in {"projectreports", "api", "projects", "project", "reports"}:
            break
        kept.append(segment)
    path = "/" + "/".join(kept) if kept else ""
    return urlunsplit((parts.scheme, without_userinfo(parts.netloc), path, "", ""))


def external_application(contact_email: str) -> str:
    """`X-Clockodo-External-Application` value `Siisurit;<contact>`, cut to Clockodo's 50 characters."""
    return f"{APPLICATION_NAME};{contact_email}"[:EXTERNAL_APPLICATION_MAX_LENGTH]


def clockodo_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ISO_UTC_FORMAT)


def time_windows(since: datetime, until: datetime, *, months: int = 12) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive [start, end) windows of `months` calendar months from `since` to `until`."""
    start = since
    while start < until:
        month_index = start.month - 1 + months
        end = start.replace(
            year=start.year + month_index // 12,
            month=month_index % 12 + 1,
            day=1,
            hour=0,
            minute=0,
            second=0,
            microsecond=0,
        )
        end = min(end, until)
        yield start, end
        start = end


def clockodo_duration_seconds(entry: dict[str, Any]) -> int | None:
    """Effective seconds (`duration` + `offset`), None while the entry is still clocking."""
    if entry.get("time_until") is None or entry.get("duration") is None:
        return None
    return int(entry["duration"]) + int(entry.get("offset") or 0)


def clockodo_breadcrumb(
    entry: dict[str, Any], customers: dict[int, str], projects: dict[int, str], services: dict[int, str]
) -> str:
    """`customer / project / service` names looked up in master data (ids stand in for unknown names)."""
    parts = []
    for key, names in (("customers_id", customers), ("projects_id", projects), ("services_id", services)):
        item_id = entry.get(key)
        if item_id is not None:
            parts.append(names.get(int(item_id)) or f"#{item_id}")
    return " / ".join(parts)
