"""From the URL a user copies from the browser (`api_location`) to the API base and the ids in it.

Supported forms are those of docs/trackers.md: https URLs (plain http only for loopback hosts, checked when
requesting), `git@HOST:path.git` and `ssh://git@HOST/path.git` remotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from siisurit.connectors.http import is_loopback_host, redact, without_userinfo
from siisurit.errors import PermanentError

_SCP_REMOTE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>(?!//)[^\s]+)$")
_JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9_]+$")
_JIRA_ISSUE_KEY = re.compile(r"^(?P<key>[A-Z][A-Z0-9_]+)-\d+$")


@dataclass(frozen=True)
class Location:
    """`origin` = scheme://host[:port] (for remotes `https://host`), `path` = path segments after the host."""

    origin: str
    host: str
    segments: tuple[str, ...]
    query: dict[str, list[str]]


def parse_location(api_location: str, label: str) -> Location:
    text = api_location.strip()
    if not text:
        raise PermanentError(f"{label}: api_location is empty")
    if text.startswith("ssh://"):
        parts = urlsplit(text)
        return Location(f"https://{parts.hostname}", parts.hostname or "", _segments(parts.path), {})
    remote = _SCP_REMOTE.match(text)
    if remote and "://" not in text:
        return Location(f"https://{remote['host']}", remote["host"], _segments(remote["path"]), {})
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentError(
            f"{label}: api_location {redact(api_location, ())!r} is neither a web URL nor a git remote"
        )
    return Location(
        f"{parts.scheme}://{without_userinfo(parts.netloc)}",
        parts.hostname,
        _segments(parts.path),
        parse_qs(parts.query),
    )


_DOT_SEGMENTS = {".", "..", "%2e", "%2e%2e", ".%2e", "%2e."}


def api_base_url_problem(api_base_url: str) -> str | None:
    """Why `api_base_url` is no API base (None if it is one or is empty).

    A base is an https URL (plain http only to a loopback host) with a path and nothing else: no query (it would
    turn the connector's path into a parameter), no fragment, no credentials, no `..` segments.
    """
    text = api_base_url.strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an https:// URL (plain http:// only to a loopback host)"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return "plain http:// is only allowed for loopback hosts, use https://"
    if "?" in text or "#" in text:
        return "must be a base URL without a query (?…) or fragment (#…)"
    if "@" in parts.netloc:
        return "must not contain credentials (put the token into api_token)"
    if any(segment.lower() in _DOT_SEGMENTS for segment in parts.path.split("/")) or any(
        character.isspace() or not character.isprintable() for character in text
    ):
        return "must be a plain base URL (no '.' or '..' segments, spaces or control characters)"
    return None


def credentials_origin(api_location: str, api_base_url: str) -> str:
    """Where a tracker's token is sent: scheme://host[:port] of `api_base_url` if set, else of `api_location`.

    A token belongs to this origin; text that is no URL stands for itself.
    """
    text = api_base_url.strip() or api_location.strip()
    if api_base_url.strip():
        parts = urlsplit(text)
        return f"{parts.scheme}://{without_userinfo(parts.netloc)}".lower() if parts.hostname else text
    try:
        return parse_location(text, "").origin.lower()
    except PermanentError:
        return text


def _segments(path: str) -> tuple[str, ...]:
    return tuple(segment for segment in path.split("/") if segment)


def _strip_git(name: str) -> str:
    return name[:-4] if name.endswith(".git") else name


def github_repository(api_location: str, label: str) -> tuple[str, str, str]:
    """(api_base, owner, repository): github.com → api.github.com, other hosts (Enterprise) → HOST/api/v3."""
    location = parse_location(api_location, label)
    segments = location.segments
    if location.host == "api.github.com" and segments[:1] == ("repos",):
        segments = segments[1:]
    elif segments[:2] == ("api", "v3") and segments[2:3] == ("repos",):
        segments = segments[3:]
    if len(segments) < 2:
        raise PermanentError(
            f"{label}: api_location {redact(api_location, ())!r} names no repository (expected …/owner/repo)"
        )
    owner, repository = segments[0], _strip_git(segments[1])
    if location.host in ("github.com", "www.github.com", "api.github.com"):
        return "https://api.github.com", owner, repository
    return f"{location.origin}/api/v3", owner, repository


def gitlab_project(api_location: str, label: str) -> tuple[str, str]:
    """(api_base, project path incl. subgroups): cut at `/-/`, strip `.git`; API at HOST/api/v4."""
    location = parse_location(api_location, label)
    segments = location.segments
    if "-" in segments:
        segments = segments[: segments.index("-")]
    if segments[:2] == ("api", "v4") and segments[2:3] == ("projects",):
        segments = segments[3:]
    if len(segments) < 2:
        raise PermanentError(
            f"{label}: api_location {redact(api_location, ())!r} names no project (expected …/group/project)"
        )
    path = "/".join((*segments[:-1], _strip_git(segments[-1])))
    return f"{location.origin}/api/v4", path


_JIRA_ROUTES = ("browse", "projects", "secure", "issues", "rest", "plugins")
_JIRA_CLOUD_APPS = ("software", "core", "servicedesk", "your-work", "projects", "dashboards", "boards", "issues")


def _is_jira_route(segments: list[str], index: int) -> bool:
    """A UI route starts here (`jira` is a Cloud app prefix only when an app name follows, else a context path)."""
    if segments[index] == "jira":
        return index + 1 < len(segments) and segments[index + 1] in _JIRA_CLOUD_APPS
    return segments[index] in _JIRA_ROUTES


def jira_project(api_location: str, label: str) -> tuple[str, str]:
    """(site base incl. a context path, project key) from …/browse/KEY-1, …/projects/KEY(/boards/1), ?project=KEY."""
    location = parse_location(api_location, label)
    segments = list(location.segments)
    route = next((index for index in range(len(segments)) if _is_jira_route(segments, index)), len(segments))
    site = "/".join((location.origin, *segments[:route]))
    key = _jira_key(segments[route:], location.query)
    if key is None:
        raise PermanentError(
            f"{label}: api_location {redact(api_location, ())!r} names no Jira project "
            "(expected …/browse/KEY-1 or …/projects/KEY)"
        )
    return site, key


def _jira_key(segments: list[str], query: dict[str, list[str]]) -> str | None:
    for index, segment in enumerate(segments):
        following = segments[index + 1] if index + 1 < len(segments) else ""
        if segment == "browse" and following:
            match = _JIRA_ISSUE_KEY.match(following)
            if match:
                return match["key"]
            if _JIRA_KEY.match(following):
                return following
        if segment == "projects" and _JIRA_KEY.match(following):
            return following
    for name in ("projectKey", "project"):
        for value in query.get(name, []):
            if _JIRA_KEY.match(value):
                return value
    return None
