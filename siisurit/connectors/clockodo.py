"""Clockodo: time entries of one project in yearly windows, breadcrumb and users from master data."""

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
    WorkRecord,
    aware_utc,
    paging_pages,
    without_totals,
)
from siisurit.connectors.clockodo_mapping import (
    TIME_ENTRY_TYPE,
    ClockodoLocation,
    clockodo_breadcrumb,
    clockodo_duration_seconds,
    clockodo_location_parse,
    clockodo_time,
    external_application,
    time_windows,
)

#: A full download reaches back this many days (Clockodo needs a time range; entries beyond it are gone).
HISTORY_DAYS = 5 * 366
#: An incremental run re-reads entries that started this long before the newest change seen last time.
TRAILING_DAYS = 62
#: Months per `time_since`/`time_until` window.
WINDOW_MONTHS = 12


class ClockodoConnector(Connector):
    """Downloads `GET /api/v2/entries?filter[projects_id]=…` window by window (Clockodo has no "changed since"
    filter: incremental runs re-read a trailing window before the cursor, the newest `time_last_change` seen)."""

    kind = "clockodo"
    holds = "work"
    supports_incremental = True
    #: Not resumable: page numbers within a time window shift when entries are added to the window meanwhile, and
    #: the lookups a download needs are read first anyway. A failed download starts again.
    resumable = False
    history_days = HISTORY_DAYS
    trailing_days = TRAILING_DAYS
    window_months = WINDOW_MONTHS

    @cached_property
    def location(self) -> ClockodoLocation:
        return clockodo_location_parse(self.tracker.api_location)

    def api_base(self) -> str:
        return self.base_override() or self.location.api_base

    def auth_headers(self) -> dict[str, str]:
        email = self.tracker.api_username.strip()
        if not email:
            raise PermanentError(f"{self.label}: api_username must be the e-mail of the Clockodo API user")
        return {
            "X-ClockodoApiUser": email,
            "X-ClockodoApiKey": self.token,
            "X-Clockodo-External-Application": external_application(email),
            "X-ClockodoEnableIsoUtcDateTimes": "1",
        }

    def download(self, *, since: str | None = None) -> Iterator[RecordPage]:
        until = datetime.now(tz=UTC).replace(microsecond=0)
        self.is_full = since is None
        self.cursor = since
        if since is None:
            start = until - timedelta(days=self.history_days)
        else:
            start = datetime.fromisoformat(since) - timedelta(days=self.trailing_days)
        customers = self._names("v3/customers")
        projects = self._names("v4/projects")
        services = self._names("v4/services")
        users = self._users()
        seen: set[str] = set()

        def to_record(entry: dict[str, Any]) -> WorkRecord | None:
            return self._work_record(entry, seen, users, customers, projects, services)

        yield from self.record_pages(self._entry_pages(start, until), to_record)

    def _entry_pages(self, start: datetime, until: datetime) -> Iterator[Page]:
        """The entries' pages, window by window. A window's `count_items` is not the download's total: with more
        than one window, the total stays unknown (progress shows counts without a wrong total)."""
        url = f"{self.api_base()}/v2/entries"
        windows = list(time_windows(start, until, months=self.window_months))
        for window_start, window_end in windows:
            params = {
                "time_since": clockodo_time(window_start),
                "time_until": clockodo_time(window_end),
                "filter[projects_id]": self.location.project_id,
            }
            pages = paging_pages(self.client, url, params, items_key="entries")
            yield from pages if len(windows) == 1 else without_totals(pages)

    def _listing(self, path: str) -> list[dict[str, Any]]:
        """All items of a master data list; [] when the API user may not read it (names then fall back to ids)."""
        items: list[dict[str, Any]] = []
        try:
            for page in paging_pages(self.client, f"{self.api_base()}/{path}", items_key="data"):
                items.extend(item for item in page.items if isinstance(item, dict) and "id" in item)
        except PermanentError as error:
            if " HTTP 403" not in str(error):
                raise
        return items

    def _names(self, path: str) -> dict[int, str]:
        return {int(item["id"]): str(item.get("name") or "") for item in self._listing(path)}

    def _users(self) -> dict[int, tuple[str, str]]:
        """users_id → (name, e-mail)."""
        return {
            int(item["id"]): (str(item.get("name") or ""), str(item.get("email") or ""))
            for item in self._listing("v3/users")
        }

    def _work_record(
        self,
        entry: dict[str, Any],
        seen: set[str],
        users: dict[int, tuple[str, str]],
        customers: dict[int, str],
        projects: dict[int, str],
        services: dict[int, str],
    ) -> WorkRecord | None:
        external_id = str(entry["id"])
        duration = clockodo_duration_seconds(entry)
        # Windows touch at their borders, so an entry may come twice; lump sums (type 2, 3) have no time.
        if entry.get("type", TIME_ENTRY_TYPE) != TIME_ENTRY_TYPE or duration is None or external_id in seen:
            return None
        seen.add(external_id)
        user_id = entry.get("users_id")
        name, email = users.get(int(user_id), ("", "")) if user_id is not None else ("", "")
        text = entry.get("text")
        return WorkRecord(
            external_id=external_id,
            external_username=email or name or (f"user {user_id}" if user_id is not None else ""),
            external_email=email,
            started_at=aware_utc(entry["time_since"]),
            duration_seconds=duration,
            text=text if isinstance(text, str) else "",
            breadcrumb_trail=clockodo_breadcrumb(entry, customers, projects, services),
            updated_at=aware_utc(entry.get("time_last_change")),
        )
