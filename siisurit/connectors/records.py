"""Normalized records every connector yields, whatever the tracker's own format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(slots=True)
class TaskRecord:
    """A task (issue, merge request) of a task tracker; `external_id` is unique within the tracker."""

    external_id: str
    code: str
    title: str = ""
    state: str = ""
    is_closed: bool = False
    estimate_hours: Decimal | None = None
    url: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    assignees: list[str] = field(default_factory=list)


@dataclass(slots=True)
class WorkRecord:
    """A work entry (time sheet record) of a time tracker; `started_at` is timezone aware (UTC)."""

    external_id: str
    external_username: str
    started_at: datetime
    duration_seconds: int
    external_email: str = ""
    text: str = ""
    breadcrumb_trail: str = ""
    external_task_id: str = ""
    updated_at: datetime | None = None


@dataclass(slots=True)
class RecordPage:
    """One page of a download: new or changed `records`, plus `unchanged_ids` known from a 304 Not Modified."""

    records: list[TaskRecord] | list[WorkRecord]
    unchanged_ids: list[str] = field(default_factory=list)
    total: int | None = None  # items the whole listing has, when the tracker says so
    #: (URL, entry) pairs for `DownloadCache.store_pages`, to store once `records` are committed
    cache_entries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
