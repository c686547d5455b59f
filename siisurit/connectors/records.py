"""Normalized records every connector yields, whatever the tracker's own format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


def _require(condition: bool, message: str) -> None:
    # TypeError: Connector.record_pages reports it as a malformed item of the tracker (PermanentError).
    if not condition:
        raise TypeError(message)


def _are_texts(values: tuple[object, ...]) -> bool:
    """All text and none with a NUL (PostgreSQL text cannot hold one): one join and one search for all of them."""
    try:
        return "\x00" not in "".join(values)  # type: ignore[arg-type]
    except TypeError:
        return False


def _is_time(value: object, *, optional: bool = True) -> bool:
    return (value is None and optional) or (isinstance(value, datetime) and value.tzinfo is not None)


def _check_texts(record: object, names: tuple[str, ...]) -> None:
    for name in names:  # name the offending field
        value = getattr(record, name)
        _require(isinstance(value, str), f"{name} must be text")
        # Refused here, with the item, rather than by the database later.
        _require("\x00" not in value, f"{name} contains a NUL character")


def _check_time(value: object, name: str, *, optional: bool = True) -> None:
    _require(_is_time(value, optional=optional), f"{name} must be a time with a zone")


_TASK_TEXTS = ("external_id", "code", "title", "state", "url")
_WORK_TEXTS = ("external_id", "external_username", "external_email", "text", "breadcrumb_trail", "external_task_id")


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

    def __post_init__(self) -> None:
        # One expression for the common case (millions of items per download), the messages only for a failure.
        if not (
            _are_texts((self.external_id, self.code, self.title, self.state, self.url))
            and self.external_id.strip()
            and self.code.strip()
            and isinstance(self.is_closed, bool)
            and (self.estimate_hours is None or isinstance(self.estimate_hours, Decimal))
            and _is_time(self.created_at)
            and _is_time(self.updated_at)
            and _is_time(self.closed_at)
            and isinstance(self.assignees, list)
            and _are_texts((*self.assignees, ""))
        ):
            self._refuse()

    def _refuse(self) -> None:
        """TypeError naming the first problem."""
        _check_texts(self, _TASK_TEXTS)
        _require(bool(self.external_id.strip()) and bool(self.code.strip()), "a task needs an id and a code")
        _require(isinstance(self.is_closed, bool), "is_closed must be true or false")
        _require(self.estimate_hours is None or isinstance(self.estimate_hours, Decimal), "estimate must be a number")
        for name in ("created_at", "updated_at", "closed_at"):
            _check_time(getattr(self, name), name)
        _require(
            isinstance(self.assignees, list)
            and all(isinstance(name, str) and "\x00" not in name for name in self.assignees),
            "assignees must be names without NUL characters",
        )


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

    def __post_init__(self) -> None:
        # One expression for the common case (millions of items per download), the messages only for a failure.
        if not (
            _are_texts(
                (
                    self.external_id,
                    self.external_username,
                    self.external_email,
                    self.text,
                    self.breadcrumb_trail,
                    self.external_task_id,
                )
            )
            and self.external_id.strip()
            and _is_time(self.started_at, optional=False)
            and _is_time(self.updated_at)
            and isinstance(self.duration_seconds, int)
            and not isinstance(self.duration_seconds, bool)
        ):
            self._refuse()

    def _refuse(self) -> None:
        """TypeError naming the first problem."""
        _check_texts(self, _WORK_TEXTS)
        _require(bool(self.external_id.strip()), "a work entry needs an id")
        _check_time(self.started_at, "started_at", optional=False)
        _check_time(self.updated_at, "updated_at")
        _require(
            isinstance(self.duration_seconds, int) and not isinstance(self.duration_seconds, bool),
            "duration must be whole seconds",
        )


@dataclass(slots=True)
class RecordPage:
    """One page of a download: new or changed `records`, plus `unchanged_ids` known from a 304 Not Modified."""

    records: list[TaskRecord] | list[WorkRecord]
    unchanged_ids: list[str] = field(default_factory=list)
    total: int | None = None  # items the whole listing has, when the tracker says so
    #: (URL, entry) pairs for `DownloadCache.store_pages`, to store once `records` are committed
    cache_entries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: (listing, marker of the next page or `LISTING_DONE`): where a resumed download goes on after this page
    resume: tuple[str, Any] | None = None
