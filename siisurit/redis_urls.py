"""Small helpers for Redis URLs."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def redis_url_database(url: str) -> int:
    """The database number a Redis URL selects (path `/N` or query `db=N`; default 0)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if "db" in query:
        return int(query["db"])
    path = parts.path.strip("/")
    if parts.scheme in ("redis", "rediss") and path.isdigit():
        return int(path)
    return 0


def redis_url_with_database(url: str, *, offset: int = 0, database: int | None = None) -> str:
    """The same Redis URL selecting another database: `database`, or the current one plus `offset`."""
    parts = urlsplit(url)
    target = database if database is not None else redis_url_database(url) + offset
    if parts.scheme in ("redis", "rediss"):
        query = {key: value for key, value in parse_qsl(parts.query) if key != "db"}
        return urlunsplit((parts.scheme, parts.netloc, f"/{target}", urlencode(query), parts.fragment))
    query = dict(parse_qsl(parts.query))
    query["db"] = str(target)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
