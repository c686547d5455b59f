"""Jira issues of a project: Cloud `search/jql` (nextPageToken), Server/Data Center `search` (startAt)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

from siisurit.connectors.base import (
    Connector,
    RecordPage,
    TaskRecord,
    aware_utc,
    hours_from_seconds,
    start_at_pages,
    token_pages,
)
from siisurit.connectors.locations import jira_project
from siisurit.errors import PermanentError

PAGE_SIZE = 100
FIELDS = "summary,status,assignee,created,updated,resolutiondate,timeoriginalestimate"
# JQL compares in the API user's time zone to the minute: ask for a margin wider than any UTC offset.
_SINCE_MARGIN = timedelta(days=1)


class JiraConnector(Connector):
    kind = "jira"
    holds = "tasks"
    supports_incremental = True

    def __init__(self, tracker: Any, **kwargs: Any) -> None:
        super().__init__(tracker, **kwargs)
        self.site, self.project_key = jira_project(tracker.api_location, self.label)
        override = self.base_override()
        self._is_server = None if override is None else override.endswith("/rest/api/2")
        if override is None and self.site.split("/")[2].endswith(".atlassian.net"):
            self._is_server = False
        self._override = override

    def api_base(self) -> str:
        if self._override:
            return self._override
        return f"{self.site}/rest/api/{2 if self._is_server else 3}"

    def auth_headers(self) -> dict[str, str]:
        username = self.tracker.api_username.strip()
        if username:
            return self.basic_auth_header(username, self.token)
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def download(self, *, since: str | None = None) -> Iterator[RecordPage]:
        self.is_full = since is None
        self.cursor = since
        jql = f'project = "{self.project_key}"'
        if since is not None:
            start = (aware_utc(since) - _SINCE_MARGIN).astimezone(UTC)
            jql += f' AND updated >= "{start:%Y-%m-%d %H:%M}"'
        jql += " ORDER BY updated ASC" if since is not None else " ORDER BY created ASC"
        params = {"jql": jql, "fields": FIELDS}
        if self._is_server is None:
            self._is_server = self._detect_server(params)
        if self._is_server:
            pages = start_at_pages(
                self.client, f"{self.api_base()}/search", params, items_key="issues", max_results=PAGE_SIZE
            )
        else:
            pages = token_pages(
                self.client, f"{self.api_base()}/search/jql", {**params, "maxResults": PAGE_SIZE}, items_key="issues"
            )
        yield from self.record_pages(pages, self._task)

    def _detect_server(self, params: dict[str, Any]) -> bool:
        """Self-hosted sites: Cloud's search/jql if it exists, else the classic Server search."""
        try:
            self.client.get(f"{self.site}/rest/api/3/search/jql", {**params, "maxResults": 1})
        except PermanentError as error:
            if "HTTP 404" in str(error):
                return True
            raise
        return False

    def _task(self, item: dict[str, Any]) -> TaskRecord:
        fields = item.get("fields") or {}
        status = fields.get("status") or {}
        assignee = fields.get("assignee")
        return TaskRecord(
            external_id=str(item["id"]),
            code=item["key"],
            title=fields.get("summary") or "",
            state=status.get("name") or "",
            is_closed=(status.get("statusCategory") or {}).get("key") == "done",
            estimate_hours=hours_from_seconds(fields.get("timeoriginalestimate")),
            url=f"{self.site}/browse/{item['key']}",
            created_at=aware_utc(fields.get("created")),
            updated_at=aware_utc(fields.get("updated")),
            closed_at=aware_utc(fields.get("resolutiondate")),
            assignees=[_jira_username(assignee)] if assignee else [],
        )


def _jira_username(user: dict[str, Any]) -> str:
    """The e-mail when visible (maps automatically), else the Server user name, else the Cloud account id."""
    return user.get("emailAddress") or user.get("name") or user.get("accountId") or user.get("displayName") or ""
