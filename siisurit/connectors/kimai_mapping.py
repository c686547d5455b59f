"""Kimai: browser URL → API base and filter, and timesheet JSON → work entry fields (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from siisurit.connectors.http import redact, without_userinfo
from siisurit.errors import PermanentError

_LOCATION = re.compile(
    r"^(?P<base>.*?)/(?P<locale>[a-z]{2}(?:_[A-Z]{2})?)/admin/(?P<kind>project|customer|activity)/(?P<id>\d+)"
)
#: Query parameter of `GET /api/timesheets` per kind of page.
FILTER_PARAMETERS = {"project": "project", "customer": "customer", "activity": "activity"}
MODIFIED_AFTER_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True, slots=True)
class KimaiLocation:
    """A Kimai project, customer or activity: `base_url` is the browser base (maybe with a sub-path)."""

    base_url: str
    scope: str
    id: int

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api"

    @property
    def filter_parameter(self) -> str:
        return FILTER_PARAMETERS[self.scope]


def kimai_location_parse(url: str) -> KimaiLocation:
    """Parse `{base}/{locale}/admin/(project|customer|activity)/{id}/details`."""
    text = url.strip()
    parts = urlsplit(text)
    match = _LOCATION.match(urlunsplit((parts.scheme, without_userinfo(parts.netloc), parts.path, "", "")))
    if parts.scheme not in {"http", "https"} or not parts.netloc or not match or "//" not in match["base"]:
        raise PermanentError(
            f"Kimai location {redact(url, ())!r} is not a project or customer page like "
            "https://kimai.example.com/en/admin/project/123/details"
        )
    return KimaiLocation(base_url=match["base"].rstrip("/"), scope=match["kind"], id=int(match["id"]))


def kimai_modified_after(moment: datetime) -> str:
    """`modified_after` query value: UTC without offset."""
    return moment.astimezone(UTC).strftime(MODIFIED_AFTER_FORMAT)


def _name(value: Any) -> str:
    return str(value.get("name") or "") if isinstance(value, dict) else ""


def kimai_breadcrumb(timesheet: dict[str, Any]) -> str:
    """`customer / project / activity` from the nested objects of `full=true`."""
    project = timesheet.get("project")
    customer = project.get("customer") if isinstance(project, dict) else None
    parts = [_name(customer), _name(project), _name(timesheet.get("activity"))]
    return " / ".join(part for part in parts if part)


def kimai_username(timesheet: dict[str, Any]) -> str:
    user = timesheet.get("user")
    if isinstance(user, dict):
        return str(user.get("username") or user.get("alias") or user.get("id") or "")
    return "" if user is None else str(user)


def kimai_duration_seconds(timesheet: dict[str, Any], started_at: datetime, ended_at: datetime) -> int:
    """`duration` in seconds; computed from begin/end if Kimai left it out."""
    duration = timesheet.get("duration")
    if isinstance(duration, int | float):
        return int(duration)
    return int((ended_at - started_at).total_seconds())
