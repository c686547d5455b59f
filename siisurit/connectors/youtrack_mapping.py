"""YouTrack: browser URL → service URL and project, and issue JSON → task fields (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from siisurit.connectors.http import redact, without_userinfo
from siisurit.errors import PermanentError

#: Path segments that start a YouTrack UI route; the service URL is everything before the first of them.
UI_ROUTES = frozenset(
    {
        "newIssue",
        "projects",
        "project",
        "issue",
        "issues",
        "agiles",
        "dashboard",
        "admin",
        "articles",
        "articlesList",
        "reports",
        "timesheets",
        "api",
        "youtrack-tasks",
        "search",
        "users",
        "gantt-charts",
    }
)
DEFAULT_ESTIMATE_FIELD = "Estimation"
USER_FIELD_TYPES = frozenset({"SingleUserIssueCustomField", "MultiUserIssueCustomField"})
STATE_FIELD_TYPES = frozenset({"StateIssueCustomField", "StateMachineIssueCustomField"})
ISSUE_FIELDS = (
    "id,idReadable,numberInProject,summary,created,updated,resolved,project(id,shortName,name),"
    "reporter(login,fullName),customFields(id,name,$type,value(id,name,login,fullName,email,minutes,"
    "presentation,isResolved))"
)
_ISSUE_CODE = re.compile(r"^(?P<project>[A-Za-z][A-Za-z0-9_]*)-\d+$")
_ENTITY_ID = re.compile(r"^\d+-\d+$")


@dataclass(frozen=True, slots=True)
class YouTrackLocation:
    """Where a YouTrack project lives: `service_url` without trailing slash; `project` is a short name
    (`DEMO`) or, from some `/projects/…` URLs, an entity id (`0-0`)."""

    service_url: str
    project: str

    @property
    def api_base(self) -> str:
        return f"{self.service_url}/api"

    @property
    def project_is_entity_id(self) -> bool:
        return bool(_ENTITY_ID.match(self.project))


def youtrack_location_parse(url: str) -> YouTrackLocation:
    """Parse any YouTrack browser URL naming a project (newIssue?project=, /projects/X, /issue/X-12, /issues/X)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise PermanentError(f"YouTrack location {redact(url, ())!r} is not an http(s) URL")
    segments = [segment for segment in parts.path.split("/") if segment]
    route_index = next((index for index, segment in enumerate(segments) if segment in UI_ROUTES), len(segments))
    service_path = "/".join(segments[:route_index])
    service_url = urlunsplit(
        (parts.scheme, without_userinfo(parts.netloc), f"/{service_path}" if service_path else "", "", "")
    )
    project = _project_of(segments[route_index:], parse_qs(parts.query))
    if not project:
        raise PermanentError(
            f"YouTrack location {redact(url, ())!r} names no project: use e.g. {service_url}/projects/DEMO "
            f"or {service_url}/newIssue?project=DEMO"
        )
    return YouTrackLocation(service_url=service_url, project=project)


def _project_of(route: list[str], query: dict[str, list[str]]) -> str:
    if query.get("project"):
        return query["project"][0].strip()
    if len(route) >= 2 and route[0] in {"projects", "project", "issues"}:
        return route[1]
    if len(route) >= 2 and route[0] == "issue":
        match = _ISSUE_CODE.match(route[1])
        return match["project"] if match else ""
    for value in query.get("q", []) + query.get("query", []):
        match = re.search(r"project:\s*\{?([A-Za-z0-9_]+)", value)
        if match:
            return match[1]
    return ""


def _custom_fields(issue: dict[str, Any]) -> list[dict[str, Any]]:
    return [field for field in issue.get("customFields") or [] if isinstance(field, dict)]


def _user_login(user: Any) -> str:
    if not isinstance(user, dict):
        return ""
    return str(user.get("login") or user.get("name") or user.get("fullName") or "")


def youtrack_assignees(issue: dict[str, Any], field_names: list[str]) -> list[str]:
    """Logins of the assignees: the fields named in `field_names` (case-sensitive), else the first user field."""
    fields = _custom_fields(issue)
    if field_names:
        chosen = [field for name in field_names for field in fields if field.get("name") == name]
    else:
        chosen = [field for field in fields if field.get("$type") in USER_FIELD_TYPES][:1]
    logins: list[str] = []
    for field in chosen:
        value = field.get("value")
        for user in value if isinstance(value, list) else [value]:
            login = _user_login(user)
            if login and login not in logins:
                logins.append(login)
    return logins


def youtrack_estimate_hours(issue: dict[str, Any], field_name: str | None) -> Decimal | None:
    """Hours of the PeriodValue in the estimate field (None when time tracking has no estimate field)."""
    if not field_name:
        return None
    for field in _custom_fields(issue):
        if field.get("name") == field_name:
            value = field.get("value")
            if isinstance(value, dict) and value.get("minutes") is not None:
                return (Decimal(int(value["minutes"])) / 60).quantize(Decimal("0.01"))
            return None
    return None


def youtrack_state(issue: dict[str, Any]) -> tuple[str, bool]:
    """(state name, is closed) from the first state field; resolved issues count as closed."""
    name, is_resolved = "", False
    for field in _custom_fields(issue):
        if field.get("$type") in STATE_FIELD_TYPES:
            value = field.get("value")
            if isinstance(value, dict):
                name = str(value.get("name") or "")
                is_resolved = bool(value.get("isResolved"))
            break
    return name, is_resolved or issue.get("resolved") is not None


def estimate_field_name(settings_json: Any) -> str | None:
    """The estimate field's name from `timeTrackingSettings`, None when time tracking is off or has none."""
    if not isinstance(settings_json, dict) or not settings_json.get("enabled"):
        return None
    estimate = settings_json.get("estimate")
    if not isinstance(estimate, dict):
        return None
    field = estimate.get("field")
    return str(field["name"]) if isinstance(field, dict) and field.get("name") else None
