"""Page iterators, one per pagination style; each follows the server's own "there is more" signal.

Every iterator yields `Page`s. With `conditional=True` a request carries the cached ETag / Last-Modified of its
URL; a 304 Not Modified gives a page without items whose `cached_ids` and cached next-page marker let the listing
go on. To fill the cache, the consumer stores `page.cache_entry(ids)` (the external ids it kept) once the page's
records are committed: `Connector.record_pages()` puts it into `RecordPage.cache_entries` for the download service.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from siisurit.connectors.http import HttpClient, Response, url_with_params
from siisurit.errors import PermanentError


@dataclass
class Page:
    response: Response
    items: list[Any]
    total: int | None = None
    next_marker: Any = None
    #: The listing this page belongs to (`listing_key`); with `next_marker` where a resumed download goes on.
    listing: str = ""

    def cache_entry(self, ids: list[str]) -> tuple[str, dict[str, Any]] | None:
        """(URL, entry) for `DownloadCache.store_pages`, or None if the answer had no validators or was a 304."""
        headers = self.response.headers
        etag, last_modified = headers.get("ETag"), headers.get("Last-Modified")
        if self.not_modified or not (etag or last_modified):
            return None
        entry = {"etag": etag, "last_modified": last_modified, "ids": ids, "next": self.next_marker}
        return self.response.url, {**entry, "total": self.total}

    @property
    def not_modified(self) -> bool:
        return self.response.not_modified

    @property
    def cached_ids(self) -> list[str]:
        return list((self.response.cached or {}).get("ids") or [])

    def release(self) -> None:
        """Drop the decoded answer once its items are mapped (the iterator that made the page may still hold it)."""
        self.items = []
        self.response.data = None


def _items(client: HttpClient, response: Response, items_key: str | None) -> list[Any]:
    data = response.data
    if items_key is not None:
        data = data.get(items_key) if isinstance(data, dict) else None
    if not isinstance(data, list):
        expected = f"an object with a list {items_key!r}" if items_key else "a list"
        raise PermanentError(f"{client.label}: malformed answer from {response.url.split('?')[0]}: expected {expected}")
    return data


def _int_header(response: Response, name: str) -> int | None:
    value = (response.headers.get(name) or "").strip()
    return int(value) if value.isdigit() else None


def _page(
    client: HttpClient,
    response: Response,
    items_key: str | None,
    total: int | None,
    next_marker: Any,
    listing: str = "",
) -> Page:
    items = [] if response.not_modified else _items(client, response, items_key)
    return Page(response, items, total, next_marker, listing)


#: The resume marker of a listing that was read to its end.
LISTING_DONE = "done"


def listing_key(url: str, params: Mapping[str, Any] | None) -> str:
    """What names a listing for resuming: its first URL with its parameters (those that stay the same)."""
    return url_with_params(url, params)


def _resume_marker(client: HttpClient, listing: str, first: Any) -> Any:
    """Where the listing starts: `first`, or where an interrupted download stopped (`HttpClient.resume_from`)."""
    return client.resume_from.get(listing, first)


def link_pages(
    client: HttpClient,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    items_key: str | None = None,
    conditional: bool = True,
) -> Iterator[Page]:
    """GitHub style: follow the Link header's `rel="next"` until it is absent."""
    listing = listing_key(url, params)
    next_url: str | None = _resume_marker(client, listing, url)
    request_params = params if next_url == url else None
    page = 0
    while next_url and next_url != LISTING_DONE:
        page += 1
        response = client.get(next_url, request_params, conditional=conditional, page=page)
        cached_next = response.cached.get("next") if response.not_modified else None
        following = cached_next if response.not_modified else response.links.get("next", {}).get("url")
        if following and urlsplit(following).netloc != urlsplit(url).netloc:
            # The session sends the credentials with every request: never to a host the tracker merely names.
            raise PermanentError(
                f"{client.label}: the next page link points to another host ({urlsplit(following).hostname})"
            )
        yield _page(client, response, items_key, None, following, listing)
        next_url, request_params = following, None


def numbered_pages(
    client: HttpClient,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    items_key: str | None = None,
    per_page: int = 100,
    page_param: str = "page",
    size_param: str = "per_page",
    conditional: bool = True,
) -> Iterator[Page]:
    """GitLab / Kimai style `page` + size: stop by `x-next-page`, `X-Total-Pages`, Link next or a short page."""
    listing = listing_key(url, params)
    number: int | None = _resume_marker(client, listing, 1)
    while number is not None and number != LISTING_DONE:
        request_params = {**(params or {}), page_param: number, size_param: per_page}
        response = client.get(url, request_params, conditional=conditional, page=number)
        total = _int_header(response, "x-total") or _int_header(response, "x-total-count")
        if response.not_modified:
            following = response.cached.get("next")
            total = response.cached.get("total")
        else:
            following = _next_number(response, number, per_page, items_key)
        yield _page(client, response, items_key, total, following, listing)
        number = following


def _next_number(response: Response, number: int, per_page: int, items_key: str | None) -> int | None:
    headers = response.headers
    if "x-next-page" in headers:
        value = headers["x-next-page"].strip()
        return int(value) if value.isdigit() else None
    total_pages = _int_header(response, "x-total-pages")
    if total_pages is not None:
        return number + 1 if number < total_pages else None
    if "next" in response.links:
        return number + 1
    data = response.data.get(items_key) if items_key and isinstance(response.data, dict) else response.data
    return number + 1 if isinstance(data, list) and len(data) >= per_page else None


def skip_top_pages(
    client: HttpClient,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    items_key: str | None = None,
    top: int = 100,
    conditional: bool = False,
) -> Iterator[Page]:
    """YouTrack style `$skip` / `$top` without a total: stop on a short page."""
    listing = listing_key(url, params)
    skip: int | None = _resume_marker(client, listing, 0)
    page = 0
    while skip is not None and skip != LISTING_DONE:
        page += 1
        request_params = {**(params or {}), "$skip": skip, "$top": top}
        response = client.get(url, request_params, conditional=conditional, page=page)
        if response.not_modified:
            following = response.cached.get("next")
        else:
            count = len(_items(client, response, items_key))
            following = skip + count if count >= top else None
        yield _page(client, response, items_key, None, following, listing)
        skip = following


def start_at_pages(
    client: HttpClient,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    items_key: str,
    max_results: int = 100,
    conditional: bool = False,
) -> Iterator[Page]:
    """Jira Server search and worklogs: `startAt` / `maxResults` until `startAt + len >= total`."""
    listing = listing_key(url, params)
    start: int | None = _resume_marker(client, listing, 0)
    page = 0
    while start is not None and start != LISTING_DONE:
        page += 1
        request_params = {**(params or {}), "startAt": start, "maxResults": max_results}
        response = client.get(url, request_params, conditional=conditional, page=page)
        if response.not_modified:
            following, total = response.cached.get("next"), response.cached.get("total")
        else:
            count = len(_items(client, response, items_key))
            total = response.data.get("total")
            start_at = response.data.get("startAt", start)
            if not isinstance(total, int) or not isinstance(start_at, int):
                raise PermanentError(f"{client.label}: malformed answer from {url}: no integer startAt/total")
            following = start_at + count if count and start_at + count < total else None
        yield _page(client, response, items_key, total, following, listing)
        start = following


def token_pages(
    client: HttpClient,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    items_key: str,
    token_param: str = "nextPageToken",  # noqa: S107 (a parameter name, not a secret)
    conditional: bool = False,
) -> Iterator[Page]:
    """Jira Cloud `search/jql`: repeat with `nextPageToken` until `isLast` (the token is absent on the last page)."""
    listing = listing_key(url, params)
    token: str | None = _resume_marker(client, listing, None)
    page = 0
    while (page == 0 or token) and token != LISTING_DONE:
        page += 1
        request_params = {**(params or {}), **({token_param: token} if token else {})}
        response = client.get(url, request_params, conditional=conditional, page=page)
        if response.not_modified:
            following = response.cached.get("next")
        else:
            data = response.data if isinstance(response.data, dict) else {}
            following = None if data.get("isLast") else data.get(token_param)
        yield _page(client, response, items_key, None, following, listing)
        token = following


def without_totals(pages: Iterator[Page]) -> Iterator[Page]:
    """The pages of one of several listings of a download: their total is that listing's, not the download's, so
    progress shows counts without it (a total is shown only when it is the whole download's)."""
    for page in pages:
        yield replace(page, total=None)


def paging_pages(
    client: HttpClient,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    items_key: str,
    per_page: int | None = None,
    size_param: str = "items_per_page",
    conditional: bool = False,
) -> Iterator[Page]:
    """Clockodo style JSON `paging` {current_page, count_pages, count_items}: request pages 1..count_pages."""
    listing = listing_key(url, params)
    number: int | None = _resume_marker(client, listing, 1)
    while number is not None and number != LISTING_DONE:
        request_params = {**(params or {}), "page": number, **({size_param: per_page} if per_page else {})}
        response = client.get(url, request_params, conditional=conditional, page=number)
        if response.not_modified:
            following, total = response.cached.get("next"), response.cached.get("total")
        else:
            paging = response.data.get("paging") if isinstance(response.data, dict) else None
            if not isinstance(paging, dict) or not isinstance(paging.get("count_pages"), int):
                raise PermanentError(f"{client.label}: malformed answer from {url}: no paging.count_pages")
            current = paging.get("current_page") or number
            total = paging.get("count_items")
            following = current + 1 if current < paging["count_pages"] else None
        yield _page(client, response, items_key, total, following, listing)
        number = following
