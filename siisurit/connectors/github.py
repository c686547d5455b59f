"""GitHub issues of a repository (pull requests dropped); conditional requests make unchanged pages free."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

from siisurit.connectors.base import Connector, RecordPage, TaskRecord, aware_utc, link_pages
from siisurit.connectors.locations import github_repository

API_VERSION = "2022-11-28"
PER_PAGE = 100


class GitHubConnector(Connector):
    kind = "github"
    holds = "tasks"
    supports_incremental = True

    def __init__(self, tracker: Any, **kwargs: Any) -> None:
        super().__init__(tracker, **kwargs)
        derived_base, self.owner, self.repository = github_repository(tracker.api_location, self.label)
        self._api_base = self.base_override() or derived_base

    def api_base(self) -> str:
        return self._api_base

    def auth_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def download(self, *, since: str | None = None) -> Iterator[RecordPage]:
        self.is_full = since is None
        self.cursor = since
        params: dict[str, Any] = {"state": "all", "direction": "asc", "per_page": PER_PAGE}
        if since is None:
            params["sort"] = "created"  # stable page boundaries, so unchanged pages keep their ETag
        else:
            params["sort"] = "updated"
            params["since"] = aware_utc(since).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        url = f"{self._api_base}/repos/{self.owner}/{self.repository}/issues"
        yield from self.record_pages(link_pages(self.client, url, params, conditional=True), self._task)

    def _task(self, item: dict[str, Any]) -> TaskRecord | None:
        if _is_pull_request(item):
            return None
        is_closed = item["state"] == "closed"
        return TaskRecord(
            external_id=str(item["id"]),
            code=f"#{item['number']}",
            title=item.get("title") or "",
            state=item["state"],
            is_closed=is_closed,
            estimate_hours=None,  # REST has no estimates
            url=item.get("html_url") or "",
            created_at=aware_utc(item.get("created_at")),
            updated_at=aware_utc(item.get("updated_at")),
            closed_at=aware_utc(item.get("closed_at")),
            assignees=[assignee["login"] for assignee in _assignees(item)],
        )


def _is_pull_request(item: dict[str, Any]) -> bool:
    """Older API versions put `pull_request` with null URLs on plain issues too: only a URL makes it a pull request."""
    link = item.get("pull_request")
    return isinstance(link, dict) and any(link.get(key) for key in ("url", "html_url"))


def _assignees(item: dict[str, Any]) -> list[dict[str, Any]]:
    """`assignees`, or the single `assignee` of API versions before multiple assignees existed."""
    if "assignees" in item:
        return item["assignees"] or []
    return [item["assignee"]] if item.get("assignee") else []
