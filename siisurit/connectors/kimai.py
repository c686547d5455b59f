"""Kimai 2: timesheets of one project, customer or activity, with the whole breadcrumb from `full=true`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from siisurit.connectors.base import (
    Connector,
    Page,
    PermanentError,
    RecordPage,
    TransientError,
    WorkRecord,
    aware_utc,
    numbered_pages,
)
from siisurit.connectors.kimai_mapping import (
    KimaiLocation,
    kimai_breadcrumb,
    kimai_duration_seconds,
    kimai_location_parse,
    kimai_modified_after,
    kimai_username,
)

PAGE_SIZE = 500
#: Incremental runs ask for changes since the last run's start minus this, to tolerate clock skew.
MODIFIED_AFTER_OVERLAP = timedelta(minutes=10)


class KimaiConnector(Connector):
    """Downloads `GET /api/timesheets?{project|customer|activity}=ID&user=all&full=true`; `modified_after`
    (UTC) for incremental runs with the start of the previous run as cursor (Kimai does not serialize
    `modifiedAt`)."""

    kind = "kimai"
    holds = "work"
    supports_incremental = True

    @cached_property
    def location(self) -> KimaiLocation:
        return kimai_location_parse(self.tracker.api_location)

    def api_base(self) -> str:
        return self.base_override() or self.location.api_base

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def download(self, *, since: str | None = None) -> Iterator[RecordPage]:
        started_at = datetime.now(tz=UTC)
        self.is_full = since is None
        self.cursor = since
        params: dict[str, Any] = {
            self.location.filter_parameter: self.location.id,
            "user": "all",
            "full": "true",
            "orderBy": "id",
            "order": "ASC",
        }
        if since is not None:
            params["modified_after"] = kimai_modified_after(datetime.fromisoformat(since) - MODIFIED_AFTER_OVERLAP)
        pages = numbered_pages(
            self.client,
            f"{self.api_base()}/timesheets",
            params,
            per_page=PAGE_SIZE,
            size_param="size",
            conditional=False,
        )
        yield from self.record_pages(self._pages_to_the_end(pages), self._work_record)
        self.cursor = started_at.isoformat()

    def _pages_to_the_end(self, pages: Iterator[Page]) -> Iterator[Page]:
        """The pages; Kimai answers 404 for a page past the end, so a 404 after the first page means the timesheets
        shrank while they were read (items moved to pages already read): a new download will see them all."""
        count = 0
        try:
            for page in pages:
                count += 1
                yield page
        except PermanentError as error:
            if count == 0 or " HTTP 404" not in str(error):
                raise
            raise TransientError(
                f"{self.label}: page {count + 1} of the timesheets is gone (HTTP 404) after {count} were read: "
                "timesheets were deleted meanwhile; download again"
            ) from None

    def _work_record(self, timesheet: dict[str, Any]) -> WorkRecord | None:
        if timesheet.get("end") is None:
            return None  # still running
        started_at = aware_utc(timesheet["begin"])
        ended_at = aware_utc(timesheet["end"])
        user = timesheet.get("user")
        return WorkRecord(
            external_id=str(timesheet["id"]),
            external_username=kimai_username(timesheet),
            external_email=str(user.get("email") or "") if isinstance(user, dict) else "",
            started_at=started_at,
            duration_seconds=kimai_duration_seconds(timesheet, started_at, ended_at),
            text=timesheet.get("description") or "",
            breadcrumb_trail=kimai_breadcrumb(timesheet),
        )
