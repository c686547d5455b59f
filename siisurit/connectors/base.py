"""The connector base class and the helpers every connector uses.

A connector subclass sets `kind` and `holds`, implements `api_base()`, `auth_headers()` (or `auth_basic()`) and
`download(since=…)`, and builds its requests with `self.client` (an `HttpClient`) and the page iterators of
`siisurit.connectors.pagination` (re-exported here). See the package docstring for the whole contract.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from siisurit.connectors.gc_pause import gc_paused
from siisurit.connectors.http import HttpClient, Response, ensure_allowed_url, redact, retry_after_seconds
from siisurit.connectors.limits import DownloadLimits
from siisurit.connectors.locations import api_base_url_problem
from siisurit.connectors.pagination import (
    LISTING_DONE,
    Page,
    link_pages,
    numbered_pages,
    paging_pages,
    skip_top_pages,
    start_at_pages,
    token_pages,
    without_totals,
)
from siisurit.connectors.records import RecordPage, TaskRecord, WorkRecord
from siisurit.downloads.cache import DownloadCache
from siisurit.errors import PermanentError, TransientError

# What reading an answer of unexpected shape raises (a missing key, null where a number was, a bad decimal …).
MALFORMED_DATA_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError)

__all__ = [
    "Connector",
    "DownloadCache",
    "HttpClient",
    "Page",
    "PermanentError",
    "RecordPage",
    "Response",
    "TaskRecord",
    "TransientError",
    "WorkRecord",
    "aware_utc",
    "ensure_allowed_url",
    "hours_from_seconds",
    "link_pages",
    "numbered_pages",
    "paging_pages",
    "redact",
    "retry_after_seconds",
    "skip_top_pages",
    "start_at_pages",
    "token_pages",
    "utc_from_epoch_milliseconds",
    "without_totals",
]

Record = TaskRecord | WorkRecord


def aware_utc(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp (`Z`, `+0200`, `+02:00`, `.000+0000`) as an aware UTC datetime; naive means UTC."""
    if not value:
        return None
    result = datetime.fromisoformat(value)
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    return result.astimezone(UTC)


def utc_from_epoch_milliseconds(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def hours_from_seconds(seconds: float | int | None) -> Decimal | None:
    """Seconds as hours with two decimals (the precision of Task.estimate_hours)."""
    if seconds is None:
        return None
    return (Decimal(seconds) / Decimal(3600)).quantize(Decimal("0.01"))


def _item_identity(item: Any) -> str:
    """` 'KEY'` of a tracker item with an id, key or number, for messages; empty if it has none."""
    if isinstance(item, dict):
        for key in ("key", "idReadable", "id", "iid", "number"):
            if isinstance(item.get(key), str | int) and not isinstance(item.get(key), bool):
                return f" {redact(str(item[key]), ())[:40]!r}"
    return ""


class Connector(ABC):
    """Downloads tasks or work entries of one tracker, page by page.

    Lifecycle: `connector = connector_class(tracker, cache=…)`; `for page in connector.download(since=…)`; then
    read `connector.is_full` and `connector.cursor`; finally `connector.close()` (or use `with`).
    """

    kind: ClassVar[str]
    holds: ClassVar[Literal["tasks", "work"]]
    #: True when `download(since=cursor)` can fetch only what changed since an earlier download.
    supports_incremental: ClassVar[bool] = False
    #: True when an interrupted download can go on from the page after its last committed one: the listing's pages
    #: are addressed by a marker that stays valid (page number, offset, next link or token) in a stable order.
    #: A connector whose API cannot resume sets it False and says why.
    resumable: ClassVar[bool] = True

    def __init__(
        self, tracker: Any, *, cache: DownloadCache | None = None, limits: DownloadLimits | None = None
    ) -> None:
        self.tracker = tracker
        self.cache = cache
        #: Deadline, request budget, response size and page count (None: the configured ones, no deadline).
        self.limits = limits
        self.label = f"{tracker.api_kind or self.kind} tracker {tracker.name!r}"
        #: After a download: True if it listed everything (then items not seen were deleted upstream).
        self.is_full = False
        #: After a download: the cursor to pass as `since` next time (ISO text of the newest `updated_at`), or None.
        self.cursor: str | None = None
        self._client: HttpClient | None = None

    # --- to implement -------------------------------------------------------------------------------------------
    @abstractmethod
    def api_base(self) -> str:
        """The API base URL (no trailing slash): `tracker.api_base_url` if set, else derived from api_location."""

    def auth_headers(self) -> dict[str, str]:
        """Headers carrying the credentials; the only place that may call `tracker.api_token.reveal()`."""
        return {}

    def extra_secrets(self) -> list[str]:
        """Further strings to hide from messages (besides the token and the Basic auth value)."""
        return []

    @abstractmethod
    def download(self, *, since: str | None = None) -> Iterator[RecordPage]:
        """Yield pages of records; `since` None = everything (sets `is_full`), else changes since that cursor."""

    def checked_download(self, *, since: str | None = None) -> Iterator[RecordPage]:
        """`download`, reporting an answer of unexpected shape (found anywhere in the connector) as PermanentError."""
        try:
            yield from self.download(since=since)
        except MALFORMED_DATA_ERRORS as error:
            raise PermanentError(
                f"{self.label}: malformed answer: {type(error).__name__}: {redact(str(error), [self.token])}"
            ) from None

    # --- helpers ------------------------------------------------------------------------------------------------
    @property
    def token(self) -> str:
        return self.tracker.api_token.reveal()

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            headers = self.auth_headers()
            secrets = [self.token, *self.extra_secrets(), *(value.split(" ")[-1] for value in headers.values())]
            self._client = HttpClient(
                label=self.label,
                headers=headers,
                secrets=secrets,
                cache=self.cache,
                scope=self.base_override(),
                limits=self.limits,
            )
        return self._client

    def base_override(self) -> str | None:
        """`tracker.api_base_url` without trailing slash, if set; every request then stays under it."""
        problem = api_base_url_problem(self.tracker.api_base_url)
        if problem:
            raise PermanentError(f"{self.label}: api_base_url {problem}")
        return self.tracker.api_base_url.strip().rstrip("/") or None

    def basic_auth_header(self, username: str, password: str) -> dict[str, str]:
        value = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {value}"}

    def note_updated(self, updated_at: datetime | None) -> None:
        """Advance the cursor to the newest `updated_at` seen."""
        if updated_at is not None and (self.cursor is None or updated_at > datetime.fromisoformat(self.cursor)):
            self.cursor = updated_at.astimezone(UTC).isoformat()

    def record_pages(self, pages: Iterator[Page], to_record: Callable[[Any], Record | None]) -> Iterator[RecordPage]:
        """Map each page's items with `to_record` (None = skip the item); 304 pages give their cached ids.

        A page is fetched, decoded and mapped with the garbage collector paused (`gc_paused`), and its decoded
        answer released before the collector runs again: the collector never walks a page's thousands of objects.
        """
        pages = iter(pages)
        while True:
            with gc_paused():
                page = next(pages, None)
                if page is None:
                    return
                record_page = self._record_page(page, to_record)
                page.release()
            yield record_page

    def _record_page(self, page: Page, to_record: Callable[[Any], Record | None]) -> RecordPage:
        if page.not_modified:
            return RecordPage([], unchanged_ids=page.cached_ids, total=page.total, resume=self._resume_point(page))
        records = []
        for item in page.items:
            try:
                record = to_record(item)
            except MALFORMED_DATA_ERRORS as error:
                raise PermanentError(
                    f"{self.label}: malformed item{_item_identity(item)} in {page.response.url.split('?')[0]}: "
                    f"{type(error).__name__}: {redact(str(error), [self.token])}"
                ) from None
            if record is not None:
                records.append(record)
        self.note_updated(max((record.updated_at for record in records if record.updated_at), default=None))
        entry = page.cache_entry([record.external_id for record in records])
        return RecordPage(
            records, total=page.total, cache_entries=[entry] if entry else [], resume=self._resume_point(page)
        )

    @property
    def request_count(self) -> int:
        return self._client.request_count if self._client else 0

    def _resume_point(self, page: Page) -> tuple[str, Any] | None:
        if not (self.resumable and page.listing):
            return None
        return page.listing, LISTING_DONE if page.next_marker is None else page.next_marker

    @property
    def retried_in_place_count(self) -> int:
        """Requests repeated in place after a transient failure (the HTTP client's retries)."""
        return self._client.retry_count if self._client else 0

    @property
    def not_modified_count(self) -> int:
        return self._client.not_modified_count if self._client else 0

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
