"""GitLab issues (`#iid`) and merge requests (`!iid`) of a project, including subgroups and self-managed hosts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from siisurit.connectors.base import (
    Connector,
    RecordPage,
    TaskRecord,
    aware_utc,
    hours_from_seconds,
    numbered_pages,
    without_totals,
)
from siisurit.connectors.locations import gitlab_project

PER_PAGE = 100
MERGE_REQUEST_ID_PREFIX = "mr:"  # issue and merge request ids are separate sequences
_CLOSED_STATES = frozenset({"closed", "merged"})


class GitLabConnector(Connector):
    kind = "gitlab"
    holds = "tasks"
    supports_incremental = True

    def __init__(self, tracker: Any, **kwargs: Any) -> None:
        super().__init__(tracker, **kwargs)
        derived_base, self.project_path = gitlab_project(tracker.api_location, self.label)
        self._api_base = self.base_override() or derived_base

    def api_base(self) -> str:
        return self._api_base

    def auth_headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.token} if self.token else {}

    def download(self, *, since: str | None = None) -> Iterator[RecordPage]:
        self.is_full = since is None
        self.cursor = since
        params: dict[str, Any] = {"sort": "asc"}
        if since is None:
            params["order_by"] = "created_at"
        else:
            params["order_by"] = "updated_at"
            params["updated_after"] = aware_utc(since).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        project_url = f"{self._api_base}/projects/{quote(self.project_path, safe='')}"
        for listing, sign in (("issues", "#"), ("merge_requests", "!")):
            pages = without_totals(numbered_pages(self.client, f"{project_url}/{listing}", params, per_page=PER_PAGE))
            yield from self.record_pages(pages, lambda item, sign=sign: self._task(item, sign))

    def _task(self, item: dict[str, Any], sign: str) -> TaskRecord:
        prefix = MERGE_REQUEST_ID_PREFIX if sign == "!" else ""
        estimate_seconds = (item.get("time_stats") or {}).get("time_estimate") or None  # 0 means "not estimated"
        return TaskRecord(
            external_id=f"{prefix}{item['id']}",
            code=f"{sign}{item['iid']}",
            title=item.get("title") or "",
            state=item["state"],
            is_closed=item["state"] in _CLOSED_STATES,
            estimate_hours=hours_from_seconds(estimate_seconds),
            url=item.get("web_url") or "",
            created_at=aware_utc(item.get("created_at")),
            updated_at=aware_utc(item.get("updated_at")),
            closed_at=aware_utc(item.get("closed_at") or item.get("merged_at")),
            assignees=[assignee["username"] for assignee in item.get("assignees") or []],
        )
