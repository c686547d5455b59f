"""Download cache in Redis (the cache database): validators per request URL and the "updated since" cursor.

Keys: ``siisurit:download:{tracker_id}:page:{sha1 of URL}`` → JSON ``{"etag", "last_modified", "ids", "next"}``
(``ids`` are the external ids the page held, so a 304 still tells which items exist) and
``siisurit:download:{tracker_id}:state`` → JSON ``{"generation", "cursor", "fingerprint", "full_at"}``.
``clear_caches`` removes them by SCAN pattern, so the next download is complete and fresh.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

import redis
from redis.backoff import ConstantBackoff
from redis.retry import Retry

KEY_PREFIX = "siisurit:download"
TIME_TO_LIVE_IN_SECONDS = 30 * 24 * 3600
#: A lost connection is tried again once a second this often, as Celery's result backend does: a download goes on
#: through a Redis restart instead of failing (redis-py's default gives up after about three seconds).
RECONNECT_ATTEMPTS = 20


def download_key(tracker_id: str, *parts: str) -> str:
    return ":".join((KEY_PREFIX, str(tracker_id), *parts))


@cache
def _client(url: str) -> redis.Redis:
    retry = Retry(ConstantBackoff(1.0), RECONNECT_ATTEMPTS)
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, retry=retry)


def download_cache_client() -> redis.Redis:
    """The Redis client of the download cache database (`SII_REDIS_CACHE_URL`, never the broker's)."""
    from django.conf import settings

    return _client(settings.SII_REDIS_CACHE_URL)


class DownloadCache:
    """The cached validators and cursor of one tracker.

    After `clear()` the object knows which pages the cache can hold (only those it stored since), so the first
    download of a new generation does not ask Redis about every page in vain.
    """

    def __init__(self, client: redis.Redis, tracker_id: str) -> None:
        self.client = client
        self.tracker_id = str(tracker_id)
        self._stored_since_clear: set[str] | None = None  # None: not cleared by this object

    def _page_key(self, url: str) -> str:
        return download_key(self.tracker_id, "page", hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest())

    def page(self, url: str) -> dict[str, Any] | None:
        key = self._page_key(url)
        if self._stored_since_clear is not None and key not in self._stored_since_clear:
            return None
        raw = self.client.get(key)
        return json.loads(raw) if raw else None

    def store_pages(self, entries: list[tuple[str, dict[str, Any]]], *, state: dict[str, Any] | None = None) -> None:
        """Remember the pages' entries, then (if given) the new state: one round trip."""
        pipeline = self.client.pipeline(transaction=False)
        for url, entry in entries:
            key = self._page_key(url)
            pipeline.set(key, json.dumps(entry, separators=(",", ":")), ex=TIME_TO_LIVE_IN_SECONDS)
            if self._stored_since_clear is not None:
                self._stored_since_clear.add(key)
        if state is not None:
            pipeline.set(download_key(self.tracker_id, "state"), json.dumps(state), ex=TIME_TO_LIVE_IN_SECONDS)
        pipeline.execute()

    def state(self) -> dict[str, Any]:
        raw = self.client.get(download_key(self.tracker_id, "state"))
        return json.loads(raw) if raw else {}

    def store_state(self, state: dict[str, Any]) -> None:
        self.client.set(download_key(self.tracker_id, "state"), json.dumps(state), ex=TIME_TO_LIVE_IN_SECONDS)

    def clear(self) -> int:
        """Remove every key of this tracker; the number removed."""
        keys = list(self.client.scan_iter(match=download_key(self.tracker_id, "*"), count=1000))
        for start in range(0, len(keys), 1000):
            self.client.delete(*keys[start : start + 1000])
        self._stored_since_clear = set()
        return len(keys)
