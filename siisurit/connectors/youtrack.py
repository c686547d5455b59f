"""YouTrack: issues of one project, with state, assignees and the estimate of time tracking."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from typing import Any

from siisurit.connectors.base import (
    Connector,
    PermanentError,
    RecordPage,
    TaskRecord,
    skip_top_pages,
    utc_from_epoch_milliseconds,
)
from siisurit.connectors.youtrack_mapping import (
    DEFAULT_ESTIMATE_FIELD,
    ISSUE_FIELDS,
    YouTrackLocation,
    estimate_field_name,
    youtrack_assignees,
    youtrack_estimate_hours,
    youtrack_location_parse,
    youtrack_state,
)

PAGE_SIZE = 100
PROJECT_PAGE_SIZE = 500
_TIME_TRACKING_FIELDS = "enabled,estimate(id,field(name)),timeSpent(id,field(name))"


class YouTrackConnector(Connector):
    """Downloads `GET /api/issues?query=project: X`; incremental runs read newest-updated first and stop early."""

    kind = "youtrack"
    holds = "tasks"
    supports_incremental = True
    #: Not resumable: `$skip` offsets over an order that changes while issues are updated (newest first when
    #: incremental), so going on at an offset could skip issues. A failed download starts again (cheaply: 304s).
    resumable = False

    @cached_property
    def location(self) -> YouTrackLocation:
        return youtrack_location_parse(self.tracker.api_location)

    def api_base(self) -> str:
        return self.base_override() or self.location.api_base

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def download(self, *, since: str | None = None) -> Iterator[RecordPage]:
        self.is_full = since is None
        self.cursor = since
        project_id, short_name = self._project()
        estimate_field = self._estimate_field(project_id)
        assignee_fields = self.tracker.custom_assignee_fields
        query = f"project: {{{short_name}}}" if " " in short_name else f"project: {short_name}"
        if since is not None:
            query += " sort by: updated desc"
        pages = skip_top_pages(
            self.client, f"{self.api_base()}/issues", {"query": query, "fields": ISSUE_FIELDS}, top=PAGE_SIZE
        )
        records = self.record_pages(pages, lambda issue: self._task_record(issue, estimate_field, assignee_fields))
        if since is None:
            yield from records
            return
        since_moment = datetime.fromisoformat(since)
        for page in records:
            changed = [record for record in page.records if _changed_since(record, since_moment)]
            yield RecordPage(changed, total=page.total)
            if len(changed) < len(page.records):
                records.close()  # sorted newest first: everything further is older than the cursor
                return

    def _project(self) -> tuple[str | None, str]:
        """(entity id or None, short name) of the location's project, via the admin list when readable."""
        wanted = self.location.project
        url = f"{self.api_base()}/admin/projects"
        try:
            for page in skip_top_pages(self.client, url, {"fields": "id,shortName,name"}, top=PROJECT_PAGE_SIZE):
                for project in page.items:
                    if isinstance(project, dict) and wanted in (project.get("shortName"), project.get("id")):
                        return str(project["id"]), str(project["shortName"])
        except PermanentError as error:
            if not _is_forbidden(error) or self.location.project_is_entity_id:
                raise
            return None, wanted
        raise PermanentError(f"{self.label}: project {wanted!r} not found or not visible with this token")

    def _estimate_field(self, project_id: str | None) -> str | None:
        """The estimate field of time tracking (None if disabled); `Estimation` when the settings are hidden."""
        if project_id is None:
            return DEFAULT_ESTIMATE_FIELD
        url = f"{self.api_base()}/admin/projects/{project_id}/timeTrackingSettings"
        try:
            response = self.client.get(url, {"fields": _TIME_TRACKING_FIELDS})
        except PermanentError as error:
            if _is_forbidden(error):
                return DEFAULT_ESTIMATE_FIELD
            raise
        return estimate_field_name(response.data)

    def _task_record(self, issue: dict[str, Any], estimate_field: str | None, assignee_fields: list[str]) -> TaskRecord:
        code = issue["idReadable"]
        state, is_closed = youtrack_state(issue)
        return TaskRecord(
            external_id=str(issue["id"]),
            code=code,
            title=issue.get("summary") or "",
            state=state,
            is_closed=is_closed,
            estimate_hours=youtrack_estimate_hours(issue, estimate_field),
            url=f"{self.location.service_url}/issue/{code}",
            created_at=utc_from_epoch_milliseconds(issue.get("created")),
            updated_at=utc_from_epoch_milliseconds(issue.get("updated")),
            closed_at=utc_from_epoch_milliseconds(issue.get("resolved")),
            assignees=youtrack_assignees(issue, assignee_fields),
        )


def _changed_since(record: TaskRecord, moment: datetime) -> bool:
    return record.updated_at is None or record.updated_at >= moment


def _is_forbidden(error: PermanentError) -> bool:
    return " HTTP 403" in str(error)
