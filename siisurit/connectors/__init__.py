"""Connectors: download tasks and work entries from trackers, streaming page by page.

Contract (every connector, see `siisurit.connectors.base.Connector`):

- One class per `api_kind` with class attributes `kind` ("github", …) and `holds` ("tasks" | "work"), and
  `supports_incremental` (True if `download(since=…)` can fetch only changes).
- Constructed from a `Tracker` row: `connector_class(api_kind)(tracker, cache=DownloadCache | None)`. Only
  `auth_headers()` may read `tracker.api_token.reveal()`; the token never appears in messages, logs or repr.
- `api_base()` → API base URL without trailing slash: `tracker.api_base_url` when set, else derived from
  `tracker.api_location` (the URL a user copies from the browser; see `siisurit.connectors.locations`).
- `download(*, since: str | None = None)` is a generator of `RecordPage(records, unchanged_ids, total,
  cache_entries)`;
  records are `TaskRecord` (holds="tasks") or `WorkRecord` (holds="work") from `siisurit.connectors.records`.
  One page at a time, so memory stays flat however big the tracker is. `since=None` downloads everything and sets
  `connector.is_full = True` (the caller then deletes rows whose external id was not seen); a cursor downloads
  only what changed (is_full stays False). Afterwards `connector.cursor` is the cursor for the next call
  (ISO text of the newest `updated_at` seen, maintained by `note_updated()` / `record_pages()`).
- HTTP only through `connector.client` (`siisurit.connectors.http.HttpClient`, a requests.Session per
  download): https, or plain http for loopback hosts only. Failures raise `siisurit.errors.TransientError`
  (429, 5xx, GitHub rate-limit 403, timeouts, dropped connections; `retry_after` from `Retry-After` or reset
  headers) or `PermanentError` (400/401/403/404/410/422, malformed JSON or items); messages name the tracker
  and the HTTP status. Connectors do not sleep and retry: the job queue retries the whole download, which the
  idempotent upsert and the download cache make cheap.
- Pagination by the server's own signal: `link_pages`, `numbered_pages` (x-next-page / X-Total-Pages),
  `skip_top_pages`, `start_at_pages`, `token_pages`, `paging_pages` in `siisurit.connectors.pagination`.
  With `conditional=True` they send cached ETag/Last-Modified and turn a 304 into a page of `unchanged_ids`.
  Map pages with `Connector.record_pages(pages, to_record)`: it converts items (None = skip, e.g. GitHub pull
  requests; KeyError/ValueError → PermanentError "malformed item"), advances `cursor` and attaches the page's
  cache entry, which the download service stores only after committing the records.
- Connectors never touch the database: the download service runs `download()` in a prefetch thread.
- `close()` (or `with connector:`) ends the session.

Use `connector_for(tracker, cache=…)`; `CONNECTOR_PATHS` maps api_kind → "module:Class" (imported lazily).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from siisurit.connectors.base import Connector
from siisurit.connectors.records import RecordPage, TaskRecord, WorkRecord
from siisurit.downloads.cache import DownloadCache
from siisurit.errors import PermanentError

CONNECTOR_PATHS = {
    "github": "siisurit.connectors.github:GitHubConnector",
    "gitlab": "siisurit.connectors.gitlab:GitLabConnector",
    "jira": "siisurit.connectors.jira:JiraConnector",
    "youtrack": "siisurit.connectors.youtrack:YouTrackConnector",
    "kimai": "siisurit.connectors.kimai:KimaiConnector",
    "clockodo": "siisurit.connectors.clockodo:ClockodoConnector",
}

__all__ = [
    "CONNECTOR_PATHS",
    "Connector",
    "DownloadCache",
    "RecordPage",
    "TaskRecord",
    "WorkRecord",
    "connector_class",
    "connector_for",
]


def connector_class(api_kind: str) -> type[Connector]:
    """The connector class of an api_kind; PermanentError for unknown kinds."""
    path = CONNECTOR_PATHS.get(api_kind)
    if path is None:
        known = ", ".join(sorted(CONNECTOR_PATHS))
        raise PermanentError(f"api_kind {api_kind!r} has no connector (known: {known})")
    module_name, class_name = path.split(":")
    return getattr(import_module(module_name), class_name)


def connector_for(tracker: Any, *, cache: DownloadCache | None = None) -> Connector:
    """A connector for the tracker row, ready to `download()`."""
    if not tracker.api_kind:
        raise PermanentError(f"tracker {tracker.name!r} has no api_kind (declared tasks only): nothing to download")
    return connector_class(tracker.api_kind)(tracker, cache=cache)
