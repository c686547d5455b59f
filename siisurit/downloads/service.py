"""Download the tasks or work entries of one tracker into the database.

Complete downloads (the first one, `full=True`, after the cache was cleared or the user mapping changed, and at
least every `FULL_DOWNLOAD_INTERVAL`) list everything and delete rows whose external id was no longer seen;
otherwise only what changed since the cursor is fetched. Pages are fetched one thread ahead of storing (the first
ones, until the first batch is full, by the storing thread itself); records are committed in batches and the
download cache remembers validators only of committed pages, so a download that failed half way resumes cheaply
when retried.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg.errors
from django.db import DataError, IntegrityError, transaction
from django.db.models import F

from siisurit.connectors import connector_class
from siisurit.connectors.base import Connector
from siisurit.connectors.gc_pause import gc_paused
from siisurit.connectors.limits import DownloadLimits
from siisurit.connectors.records import RecordPage
from siisurit.downloads.cache import DownloadCache, download_cache_client
from siisurit.downloads.last_download import last_download_fields, tracker_last_download_record
from siisurit.downloads.upsert import (
    UpsertCounts,
    seen_ids_add,
    seen_ids_begin,
    seen_ids_end,
    tracker_is_empty,
    tracker_tasks_upsert,
    tracker_unseen_delete,
    tracker_work_entries_upsert,
)
from siisurit.downloads.user_mapping import (
    TRACKER_MEMBERS_SQL,
    UserResolver,
    members_of,
    user_resolver_for_tracker,
)
from siisurit.errors import DeadlineError, PermanentError, SiisuritError
from siisurit.jobs import Progress, job_started_at
from siisurit.models import Tracker
from siisurit.models.by_primary_key import model_fields_update, model_get_by_pk_with

_log = logging.getLogger(__name__)

FULL_DOWNLOAD_INTERVAL = timedelta(hours=24)
#: Records per database transaction: fewer commits, memory still bounded.
BATCH_SIZE = 5000
#: The first batch, doubled for each next one up to BATCH_SIZE: storing starts early instead of waiting for the
#: first BATCH_SIZE records (a quarter of a 20,000-issue download), which is what limits downloads storing slower
#: than fetching.
FIRST_BATCH_SIZE = 500
#: A slow download commits at least this often, so a killed one loses at most this much work (it resumes there).
#: Batches commit without waiting for the disk, except one at least this often and the last one: only then does the
#: cache remember the pages of the batches committed so far (a server crash cannot lose what the cache relies on).
FLUSH_INTERVAL_SECONDS = 2.0
#: Items (records, unchanged ids) fetched ahead while earlier ones are stored: fetching goes on during a commit.
PREFETCH_ITEMS = 2 * BATCH_SIZE
#: Waiting for the next page with at least this many items collected, the writer stores them meanwhile.
IDLE_BATCH_SIZE = FIRST_BATCH_SIZE
_IDLE = object()


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


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _newest(*cursors: str | None) -> str | None:
    """The latest of ISO timestamps (None where there is none)."""
    moments = [datetime.fromisoformat(cursor) for cursor in cursors if cursor]
    return max(moments).astimezone(UTC).isoformat() if moments else None


def _without_resume(cache_state: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in cache_state.items() if key != "resume"}


def _prefetched(
    pages: Iterator[RecordPage],
    ahead: int = PREFETCH_ITEMS,
    *,
    idle: object = None,
    inline_items: int = 0,
) -> Iterator[RecordPage | object]:
    """The same pages: fetched in the caller's thread while they hold fewer than `inline_items` items, the rest ahead
    in a thread (`_fetched_ahead`), which starts before the page reaching `inline_items` is handed over.

    Until it has a batch to store (`_pages_write`: the first batch, or what a wait stores) the caller has nothing to
    do while it waits for a page, so nothing is lost; a download of one page (most updates) starts no thread: with
    its hand-offs that cost about 0.3 ms of CPU, and the fan-out of bench/download.py updated unchanged trackers 4 %
    faster at 8 slots without it.
    """
    items = 0
    try:
        while (page := next(pages, None)) is not None:
            items += len(page.records) + len(page.unchanged_ids)
            if items >= inline_items:
                break
            yield page
        else:
            return
    except BaseException:  # stopped early (GeneratorExit) or fetching failed: the listing ends as in the thread
        pages.close()
        raise
    yield from _fetched_ahead(_starting_with(page, pages), ahead, idle=idle)


def _starting_with(page: RecordPage, pages: Iterator[RecordPage]) -> Iterator[RecordPage]:
    try:
        yield page
        yield from pages
    finally:
        pages.close()


def _fetched_ahead(pages: Iterator[RecordPage], ahead: int, *, idle: object) -> Iterator[RecordPage | object]:
    """The same pages, fetched and parsed in a thread while the caller stores the previous ones.

    The thread stays at most `ahead` items (records and unchanged ids) ahead, so memory stays bounded while a whole
    batch is being written; errors of the fetching thread are raised here; if the caller stops early, the thread
    stops at its next page. Connectors do not use the database, so the thread needs no connection of its own.
    With `idle` (not None), that object comes instead of a page once whenever the next page is not there yet: the
    caller may use the wait (store what it has) before it asks again and waits for the page.
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
    idled = False
    try:
        while True:
            with condition:
                if not ready and idle is not None and not idled:
                    item = idle
                else:
                    while not ready:
                        condition.wait()
                    item, size = ready.popleft()
                    waiting -= size
                    condition.notify_all()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            idled = item is idle
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
    return summary


@dataclass
class _Download:
    """One download of one tracker: what it reads from, where it writes, and what it found so far."""

    tracker: Tracker
    connector_type: type[Connector]
    resolver: UserResolver
    cache: DownloadCache
    cache_state: dict[str, Any]
    since: str | None
    now: datetime
    started: float
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    pages: int = 0
    items: int = 0
    deleted: int = 0
    #: Resuming an interrupted attempt: the next page of each listing (`pagination.listing_key` → marker), and the
    #: newest change committed so far. A resumed download does not count as complete (see `complete`).
    resumed: bool = False
    markers: dict[str, Any] = field(default_factory=dict)
    resume_cursor: str | None = None
    #: The tracker had no downloaded rows when this download began: every row there is at the end was seen by it.
    started_empty: bool = False
    #: Batches are inserted without merging (the tracker started empty), until an external id comes twice.
    insert_only: bool = False

    def complete(self, connector: Connector) -> bool:
        """Whether this download listed everything: then rows not seen were deleted upstream."""
        return connector.is_full and not self.resumed

    def deletes_unseen(self, connector: Connector) -> bool:
        """Whether rows not seen are deleted at the end, so the ids seen are collected: complete, rows before."""
        return self.may_delete_unseen and self.complete(connector)

    @property
    def may_delete_unseen(self) -> bool:
        """Whether this download can turn out complete (it lists everything from the start: connectors set `is_full`
        for `since=None`) into rows there before; only then are the ids seen tracked at all (two statements)."""
        return self.since is None and not self.resumed and not self.started_empty


def _tracker_download(*, tracker_id: str, full: bool, progress: Progress | None) -> dict:
    download = _download_prepare(tracker_id=tracker_id, full=full)
    limits = DownloadLimits.from_settings(started=job_started_at())
    with download.connector_type(download.tracker, cache=download.cache, limits=limits) as connector:
        if download.resumed:
            connector.client.resume_from = dict(download.markers)
            _log.info(
                "%s: resuming after the committed pages of %d listing(s)", download.tracker.name, len(download.markers)
            )
        tracks_seen = download.may_delete_unseen
        if tracks_seen:
            seen_ids_begin()
        try:
            unremembered_pages = _pages_store(download, connector, progress)
            if download.deletes_unseen(connector):
                with transaction.atomic():
                    download.deleted = tracker_unseen_delete(
                        tracker_id=download.tracker.id, holds=download.connector_type.holds
                    )
        finally:
            if tracks_seen:
                seen_ids_end(used=download.deletes_unseen(connector))
        return _download_finish(download, connector, unremembered_pages)


def _download_prepare(*, tracker_id: str, full: bool) -> _Download:
    """Load the tracker, keep or start the cache generation, and choose a complete or an incremental download."""
    started, now = time.monotonic(), datetime.now(tz=UTC)
    # The tracker's row, not joined to its project, organization and user mapping (most trackers have none; the
    # resolver loads it): that cost PostgreSQL 0.35 instead of 0.08 ms to plan, a sixth of its CPU for a download that
    # finds nothing new. The members of its organization (for the user mapping) come in the same statement, as one
    # JSON value: a round trip less (the statement is prepared once a connection ran it a few times, so it is not
    # planned again).
    tracker, members = model_get_by_pk_with(Tracker, tracker_id, TRACKER_MEMBERS_SQL)
    connector_type = connector_class(tracker.api_kind)
    resolver = user_resolver_for_tracker(tracker=tracker, members=members_of(members))
    cache = DownloadCache(download_cache_client(), str(tracker.id))
    cache_state = cache.state()
    if not _valid_cache_state(cache_state, tracker, resolver.fingerprint):
        # Start a new generation in both places at once, so that a retry after a failure reuses committed pages.
        cache.clear()
        cache_state = {"generation": uuid.uuid4().hex, "fingerprint": resolver.fingerprint}
        tracker.download_state = {**(tracker.download_state or {}), "generation": cache_state["generation"]}
        model_fields_update(tracker, ["download_state"])
        cache.store_state(cache_state)
    since = cache_state.get("cursor")
    if full or not connector_type.supports_incremental or _is_full_due(cache_state, now):
        since = None
    download = _Download(tracker, connector_type, resolver, cache, cache_state, since, now, started)
    # An earlier attempt that failed or was killed after committing pages goes on after them (same listing).
    resume = cache_state.get("resume") if connector_type.resumable and not full else None
    if resume and resume.get("since") == since:
        download.resumed, download.markers, download.resume_cursor = True, dict(resume["markers"]), resume["cursor"]
    if since is None:  # only a download listing everything gains from an empty start; others merge (a statement less)
        download.started_empty = download.insert_only = tracker_is_empty(
            tracker_id=tracker.id, holds=connector_type.holds
        )
    return download


class _BatchWriter:
    """Collects records of fetched pages and commits them in batches; the cache then remembers those pages.

    Commits wait for the disk (a WAL flush: 10-20 ms each, a tenth of a 20,000-issue download) only when `durable`:
    at least every FLUSH_INTERVAL_SECONDS and at the end. Such a commit also makes the earlier ones durable (the WAL
    is written in order), so the cache remembers the pages of all of them only then.
    """

    def __init__(self, download: _Download, connector: Connector) -> None:
        self.download = download
        self.connector = connector
        holds_tasks = download.connector_type.holds == "tasks"
        self.upsert = tracker_tasks_upsert if holds_tasks else tracker_work_entries_upsert
        self.records: list = []
        self.unchanged_ids: list[str] = []
        self.cache_entries: list = []
        self.resume_points: list[tuple[str, Any]] = []
        self.flush_due = self.durable_due = time.monotonic() + FLUSH_INTERVAL_SECONDS
        self.batch_size = FIRST_BATCH_SIZE
        #: The pages of batches committed but not yet durable, and the resume state after them.
        self.undurable_entries: list = []
        self.undurable_state: dict[str, Any] | None = None

    def add(self, page: RecordPage) -> None:
        self.records.extend(page.records)
        self.unchanged_ids.extend(page.unchanged_ids)
        self.cache_entries.extend(page.cache_entries)
        if page.resume is not None:
            self.resume_points.append(page.resume)
        now = time.monotonic()
        if len(self.records) + len(self.unchanged_ids) >= self.batch_size or now >= self.flush_due:
            self._flush_batch(now)

    def idle(self) -> None:
        """The next page is not fetched yet: store what was collected if it makes a batch worth its round trips.
        Storing keeps up with fetching instead of waiting for a full batch, so little is left when fetching ends."""
        if len(self.records) + len(self.unchanged_ids) >= IDLE_BATCH_SIZE:
            self._flush_batch(time.monotonic())

    def _flush_batch(self, now: float) -> None:
        self.flush(durable=now >= self.durable_due)
        self.batch_size = min(2 * self.batch_size, BATCH_SIZE)

    def flush(self, *, durable: bool = True) -> None:
        """Commit the collected records; once durable, let the cache remember the pages they came from."""
        if not (self.records or self.unchanged_ids or self.cache_entries):
            if durable and (self.undurable_entries or self.undurable_state):
                self._durable_point()
            return
        self.flush_due = time.monotonic() + FLUSH_INTERVAL_SECONDS
        if durable:
            self.durable_due = self.flush_due
        download = self.download
        try:
            try:
                batch_counts = self._upsert(durable)
            except IntegrityError as error:
                if not (download.insert_only and isinstance(error.__cause__, psycopg.errors.UniqueViolation)):
                    raise
                # An external id came twice (the listing shifted while it was paged): merge from now on.
                download.insert_only = False
                batch_counts = self._upsert(durable)
        except (DataError, IntegrityError) as error:
            # Values too long for their column, two tasks with one code: the tracker's data, not ours.
            reason = str(error).strip().splitlines()[0]
            raise PermanentError(
                f"{download.tracker.name}: the tracker sent data that cannot be stored: {reason}"
            ) from None
        self.undurable_entries.extend(self.cache_entries)
        self.undurable_state = self._resume_state() or self.undurable_state
        if durable:
            self._cache_store()
        batch_counts.unchanged += len(self.unchanged_ids)
        download.counts.add(batch_counts)
        for collected in (self.records, self.unchanged_ids, self.cache_entries, self.resume_points):
            collected.clear()
        gc.collect(0)  # the collector is paused (`_pages_store`): cycles made meanwhile are freed here

    def finish(self) -> list:
        """Commit what is left without waiting for the disk; the cache entries of pages not yet remembered.

        The caller's last commit (the tracker's row, `_download_finish`) waits for the disk, which makes these
        commits durable too; it then lets the cache remember the pages with the final state, in one round trip
        instead of two (a download that finds nothing new does little else)."""
        self.flush(durable=False)
        entries, self.undurable_entries, self.undurable_state = self.undurable_entries, [], None
        return entries

    def _cache_store(self) -> None:
        """After a durable commit: the cache remembers the pages of every batch committed so far."""
        if self.undurable_entries or self.undurable_state:
            self.download.cache.store_pages(self.undurable_entries, state=self.undurable_state)
        self.undurable_entries, self.undurable_state = [], None

    def _durable_point(self) -> None:
        """Make the batches committed so far durable when no batch is left to commit durably: a commit that writes
        (the tracker's row, unchanged) waits for the WAL up to it, the earlier commits' included."""
        with transaction.atomic():
            Tracker.objects.filter(id=self.download.tracker.id).update(download_state=F("download_state"))
        self._cache_store()

    def _upsert(self, durable: bool) -> UpsertCounts:
        """The collected records and unchanged ids in one transaction (its commit waits for the disk if `durable`)."""
        download = self.download
        track_seen = download.deletes_unseen(self.connector)
        with transaction.atomic():
            counts = self.upsert(
                tracker_id=download.tracker.id,
                records=self.records,
                resolver=download.resolver,
                track_seen=track_seen,
                only_new=download.insert_only,
                durable=durable,
            )
            if track_seen and self.unchanged_ids:
                seen_ids_add(self.unchanged_ids)
        return counts

    def _resume_state(self) -> dict[str, Any] | None:
        """After a commit: the cache state with where each listing goes on and the newest change committed, for a
        resumed attempt (None: the pages have no resume points)."""
        download = self.download
        if not self.resume_points:
            return None
        download.markers.update(self.resume_points)
        changes = [record.updated_at for record in self.records if record.updated_at is not None]
        download.resume_cursor = _newest(download.resume_cursor, _iso(max(changes, default=None)))
        resume = {"since": download.since, "markers": download.markers, "cursor": download.resume_cursor}
        return {**download.cache_state, "resume": resume}


def _pages_store(download: _Download, connector: Connector, progress: Progress | None) -> list:
    """Fetch the pages (one thread ahead) and store them in batches; on failure keep the complete pages stored.
    Returns the cache entries of the pages the cache is still to remember (`_BatchWriter.finish`).

    The garbage collector is paused throughout; each batch ends with a collection of the young generation only
    (`_BatchWriter.flush`). Records waiting to be stored (up to PREFETCH_ITEMS and a batch) survived the automatic
    collections between pages and were promoted until they set off full collections of the whole process (0.09 s,
    a fifth of a 20,000-issue floor, in some downloads); now they stay young or middle-aged until they are freed.
    """
    writer = _BatchWriter(download, connector)
    with gc_paused():
        _pages_write(download, connector, progress, writer)
        return writer.finish()


def _pages_write(download: _Download, connector: Connector, progress: Progress | None, writer: _BatchWriter) -> None:
    try:
        pages = connector.checked_download(since=download.since)
        # Fewer items than these are stored neither as a batch nor while waiting for a page.
        for page in _prefetched(pages, idle=_IDLE, inline_items=min(FIRST_BATCH_SIZE, IDLE_BATCH_SIZE)):
            if page is _IDLE:
                writer.idle()
                continue
            writer.add(page)
            download.pages += 1
            download.items += len(page.records) + len(page.unchanged_ids)
            if progress is not None:
                progress(download.items, page.total, f"{download.tracker.name}: page {download.pages}")
    except SiisuritError as error:
        if download.resumed and isinstance(error, PermanentError) and not isinstance(error, DeadlineError):
            # A marker the tracker no longer accepts (an expired page token): start over next time.
            download.cache.store_state(_without_resume(download.cache_state))
        writer.flush()  # so that the retry goes on after the complete pages
        raise


def _download_finish(download: _Download, connector: Connector, unremembered_pages: list) -> dict:
    """The summary; the tracker's and the cache's state move on to the new cursor, and the cache remembers the last
    pages (their commits are durable once the tracker's is)."""
    tracker, now = download.tracker, download.now
    is_full = download.complete(connector)
    # Pages answered 304 hold no records, so the connector's cursor knows only the changed ones: the newest change is
    # the newest of it and the cursor before (a complete re-check of an unchanged tracker lost it, and every update
    # after listed everything again instead of what changed).
    cursor = _newest(download.cache_state.get("cursor"), download.resume_cursor, connector.cursor)
    cache_state = {
        **_without_resume(download.cache_state),
        "cursor": cursor,
        **({"full_at": now.isoformat()} if is_full else {}),
    }
    summary = {
        "tracker": tracker.name,
        "tracker_id": str(tracker.id),
        "kind": tracker.api_kind,
        "full": is_full,
        "resumed": download.resumed,
        "pages": download.pages,
        "requests": connector.request_count,
        "not_modified": connector.not_modified_count,
        "retried_in_place": connector.retried_in_place_count,
        "items": download.items,
        "created": download.counts.created,
        "updated": download.counts.updated,
        "unchanged": download.counts.unchanged,
        "deleted": download.deleted,
        "duration": round(time.monotonic() - download.started, 3),
    }
    tracker.download_state = {
        "generation": cache_state["generation"],
        "cursor": cursor,
        "full_at": cache_state.get("full_at"),
        "last": {key: summary[key] for key in ("full", "items", "created", "updated", "deleted", "requests")},
    }
    tracker.last_downloaded_at = now
    outcome = last_download_fields(items=download.items)
    for name, value in outcome.items():
        setattr(tracker, name, value)
    model_fields_update(tracker, ["download_state", "last_downloaded_at", *outcome])
    # A download that found nothing new leaves the cache's state as it found it: not writing it again saves a round
    # trip. Its time to live (30 days) is renewed at least daily all the same, by the complete download that moves
    # `full_at` on (FULL_DOWNLOAD_INTERVAL).
    if unremembered_pages or cache_state != download.cache_state:
        download.cache.store_pages(unremembered_pages, state=cache_state)
    _log.info("downloaded %s: %s", tracker.name, summary)
    return summary
