"""Download the tasks or work entries of one tracker into the database.

Complete downloads (the first one, `full=True`, after the cache was cleared or the user mapping changed, and at
least every `FULL_DOWNLOAD_INTERVAL`) list everything and delete rows whose external id was no longer seen;
otherwise only what changed since the cursor is fetched. Pages are fetched one thread ahead of storing; records
are committed in batches and the download cache remembers validators only of committed pages, so a download that
failed half way resumes cheaply when retried.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DataError, IntegrityError, transaction

from siisurit.connectors import connector_class
from siisurit.connectors.limits import DownloadLimits
from siisurit.connectors.records import RecordPage
from siisurit.downloads.cache import DownloadCache, download_cache_client
from siisurit.downloads.last_download import tracker_last_download_record
from siisurit.downloads.upsert import (
    UpsertCounts,
    seen_ids_add,
    seen_ids_begin,
    seen_ids_end,
    tracker_tasks_upsert,
    tracker_unseen_delete,
    tracker_work_entries_upsert,
)
from siisurit.downloads.user_mapping import user_resolver_for_tracker
from siisurit.errors import PermanentError, SiisuritError
from siisurit.jobs import Progress, job_started_at
from siisurit.models import Tracker

_log = logging.getLogger(__name__)

FULL_DOWNLOAD_INTERVAL = timedelta(hours=24)
#: Records per database transaction: fewer commits, memory still bounded.
BATCH_SIZE = 5000
#: Items (records, unchanged ids) fetched ahead while earlier ones are stored: fetching goes on during a commit.
PREFETCH_ITEMS = 2 * BATCH_SIZE


def _valid_cache_state(cache_state: dict[str, Any], tracker: Tracker, fingerprint: str) -> bool:
    """The cache belongs to the database's current content (same generation) and to the same user mapping."""
    generation = (tracker.download_state or {}).get("generation")
    return (
        bool(generation)
        and cache_state.get("generation") == generation
        and cache_state.get("fingerprint") == fingerprint
    )


def _is_full_due(cache_state: dict[str, Any], now: datetime) -> bool:
    full_at = cache_state.get("full_at")
    return not full_at or now - datetime.fromisoformat(full_at) >= FULL_DOWNLOAD_INTERVAL


def _prefetched(pages: Iterator[RecordPage], ahead: int = PREFETCH_ITEMS) -> Iterator[RecordPage]:
    """The same pages, fetched and parsed in a thread while the caller stores the previous ones.

    The thread stays at most `ahead` items (records and unchanged ids) ahead, so memory stays bounded while a whole
    batch is being written; errors of the fetching thread are raised here; if the caller stops early, the thread
    stops at its next page. Connectors do not use the database, so the thread needs no connection of its own.
    """
    ready: deque = deque()
    condition = threading.Condition()
    waiting = 0  # items of the pages in `ready`
    stop = False
    done = object()

    def put(item: object, size: int) -> bool:
        nonlocal waiting
        with condition:
            while waiting and waiting + size > ahead and not stop:
                condition.wait()
            if stop:
                return False
            ready.append((item, size))
            waiting += size
            condition.notify_all()
            return True

    def produce() -> None:
        try:
            for page in pages:
                if not put(page, len(page.records) + len(page.unchanged_ids)):
                    break
            else:
                put(done, 0)
        except BaseException as error:  # handed to the caller's thread
            put(error, 0)
        finally:
            pages.close()

    thread = threading.Thread(target=produce, name="download-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            with condition:
                while not ready:
                    condition.wait()
                item, size = ready.popleft()
                waiting -= size
                condition.notify_all()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        with condition:
            stop = True
            condition.notify_all()
        thread.join()


def tracker_download(*, tracker_id: str, full: bool = False, progress: Progress | None = None) -> dict:
    """Download one tracker; a summary of counts (pages, requests, items, created, updated, unchanged, deleted).

    How it ended (when, outcome, error, items) is recorded on the tracker, whether it succeeded or not.
    """
    try:
        summary = _tracker_download(tracker_id=tracker_id, full=full, progress=progress)
    except Exception as error:
        tracker_last_download_record(tracker_id=tracker_id, error=error)
        raise
    tracker_last_download_record(tracker_id=tracker_id, items=summary["items"])
    return summary


def _tracker_download(*, tracker_id: str, full: bool, progress: Progress | None) -> dict:
    started = time.monotonic()
    now = datetime.now(tz=UTC)
    tracker = Tracker.objects.select_related("project__organization", "user_mapping").get(id=tracker_id)
    connector_type = connector_class(tracker.api_kind)
    resolver = user_resolver_for_tracker(tracker=tracker)
    cache = DownloadCache(download_cache_client(), str(tracker.id))
    cache_state = cache.state()
    if not _valid_cache_state(cache_state, tracker, resolver.fingerprint):
        # Start a new generation in both places at once, so that a retry after a failure reuses committed pages.
        cache.clear()
        cache_state = {"generation": uuid.uuid4().hex, "fingerprint": resolver.fingerprint}
        tracker.download_state = {**(tracker.download_state or {}), "generation": cache_state["generation"]}
        tracker.save(update_fields=["download_state"])
        cache.store_state(cache_state)
    since = cache_state.get("cursor")
    if full or not connector_type.supports_incremental or _is_full_due(cache_state, now):
        since = None
    upsert = tracker_tasks_upsert if connector_type.holds == "tasks" else tracker_work_entries_upsert
    counts = UpsertCounts()
    pages = items = deleted = 0
    limits = DownloadLimits.from_settings(started=job_started_at())
    with connector_type(tracker, cache=cache, limits=limits) as connector:
        batch: list = []
        unchanged_ids: list[str] = []
        cache_entries: list = []

        def flush() -> None:
            """Commit the collected records, then let the cache remember the pages they came from."""
            if not (batch or unchanged_ids or cache_entries):
                return
            try:
                with transaction.atomic():
                    batch_counts = upsert(
                        tracker_id=tracker.id, records=batch, resolver=resolver, track_seen=connector.is_full
                    )
                    if connector.is_full and unchanged_ids:
                        seen_ids_add(unchanged_ids)
            except (DataError, IntegrityError) as error:
                # Values too long for their column, two tasks with one code: the tracker's data, not ours.
                reason = str(error).strip().splitlines()[0]
                raise PermanentError(f"{tracker.name}: the tracker sent data that cannot be stored: {reason}") from None
            if cache_entries:
                cache.store_pages(cache_entries)
            batch_counts.unchanged += len(unchanged_ids)
            counts.add(batch_counts)
            for collected in (batch, unchanged_ids, cache_entries):
                collected.clear()

        seen_ids_begin()
        try:
            try:
                for page in _prefetched(connector.checked_download(since=since)):
                    batch.extend(page.records)
                    unchanged_ids.extend(page.unchanged_ids)
                    cache_entries.extend(page.cache_entries)
                    pages += 1
                    items += len(page.records) + len(page.unchanged_ids)
                    if len(batch) + len(unchanged_ids) >= BATCH_SIZE:
                        flush()
                    if progress is not None:
                        progress(items, page.total, f"{tracker.name}: page {pages}")
            except SiisuritError:
                flush()  # keep the complete pages, so that the retry starts from the cache
                raise
            flush()
            if connector.is_full:
                with transaction.atomic():
                    deleted = tracker_unseen_delete(tracker_id=tracker.id, holds=connector_type.holds)
        finally:
            seen_ids_end(used=connector.is_full)
        is_full = connector.is_full
        cursor = connector.cursor
        request_count, not_modified = connector.request_count, connector.not_modified_count
        retried_in_place = connector.retried_in_place_count
    cache_state = {**cache_state, "cursor": cursor, **({"full_at": now.isoformat()} if is_full else {})}
    summary = {
        "tracker": tracker.name,
        "tracker_id": str(tracker.id),
        "kind": tracker.api_kind,
        "full": is_full,
        "pages": pages,
        "requests": request_count,
        "not_modified": not_modified,
        "retried_in_place": retried_in_place,
        "items": items,
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "deleted": deleted,
        "duration": round(time.monotonic() - started, 3),
    }
    tracker.download_state = {
        "generation": cache_state["generation"],
        "cursor": cursor,
        "full_at": cache_state.get("full_at"),
        "last": {key: summary[key] for key in ("full", "items", "created", "updated", "deleted", "requests")},
    }
    tracker.last_downloaded_at = now
    tracker.save(update_fields=["download_state", "last_downloaded_at"])
    cache.store_state(cache_state)
    _log.info("downloaded %s: %s", tracker.name, summary)
    return summary
