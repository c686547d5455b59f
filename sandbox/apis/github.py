"""GitHub REST imitation: issues of ``acme/webshop`` (pull requests included), Link paging, ETags, rate limits."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from functools import lru_cache

from sandbox.apis.base import BaseApi, bearer_token, page_links
from sandbox.faults import Fault
from sandbox.messages import Request, Response
from sandbox.people import SandboxUser
from sandbox.store import LazyStore
from sandbox.tasks import TaskRecord
from sandbox.timeline import iso_z, now, parse_instant

OWNER, REPOSITORY = "acme", "webshop"
REPOSITORY_ID = 1300192
SUPPORTED_VERSIONS = ("2022-11-28", "2026-03-10")
_DOCS = "https://docs.github.com/rest"
_RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
_PREFIX = r"(?:/api/v3)?"
_LABEL_COLORS = {
    "bug": "d73a4a",
    "enhancement": "a2eeef",
    "documentation": "0075ca",
    "performance": "fbca04",
    "ux": "c5def5",
    "security": "b60205",
}


class RateLimit:
    """The primary rate limit of the token: hourly window, 304 answers are free."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._used = 0
        self._reset = now() + 3600

    def consume(self) -> bool:
        """Count one request; False when the limit is exhausted."""
        with self._lock:
            self._roll()
            if self.limit is not None and self._used >= self.limit:
                return False
            self._used += 1
            return True

    def headers(self, *, exhausted_until: int | None = None) -> list[tuple[str, str]]:
        with self._lock:
            self._roll()
            limit = self.limit if self.limit is not None else 5000
            used = limit if exhausted_until is not None else min(self._used, limit)
            reset = exhausted_until if exhausted_until is not None else self._reset
        return [
            ("x-ratelimit-limit", str(limit)),
            ("x-ratelimit-remaining", str(limit - used)),
            ("x-ratelimit-used", str(used)),
            ("x-ratelimit-reset", str(reset)),
            ("x-ratelimit-resource", "core"),
        ]

    def _roll(self) -> None:
        if now() >= self._reset:
            self._used = 0
            self._reset = now() + 3600


class GithubApi(BaseApi):
    kind = "github"
    routes = (
        (_PREFIX + r"/repos/([^/]+)/([^/]+)/issues", "list_issues", True),
        (_PREFIX + r"/repositories/(\d+)/issues", "list_issues_by_repository_id", True),
        (_PREFIX + r"/repos/([^/]+)/([^/]+)/issues/(\d+)", "get_issue", True),
        (_PREFIX + r"/repos/([^/]+)/([^/]+)", "get_repository", True),
        (_PREFIX + r"/user", "get_user", True),
        (_PREFIX + r"/rate_limit", "get_rate_limit", True),
    )
    pages = ((rf"/{OWNER}/{REPOSITORY}(?:\.git)?(?:/.*)?", f"{OWNER}/{REPOSITORY}"),)

    def __init__(self, *, store: LazyStore, rate_limit: int | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.rate_limit = RateLimit(rate_limit)

    # Authentication, errors

    def authenticate(self, request: Request) -> SandboxUser | None:
        return self.user_by_token(bearer_token(request, "Bearer", "token"))

    def unauthorized(self, request: Request) -> Response:
        if request.header("Authorization") is None:
            return self.error(401, "Requires authentication")
        return self.error(401, "Bad credentials")

    def error(self, status: int, message: str | None = None) -> Response:
        messages = {
            401: "Bad credentials",
            403: "Forbidden",
            404: "Not Found",
            410: "Gone",
            422: "Validation Failed",
            429: "API rate limit exceeded",
            503: "Service Unavailable",
        }
        body = {"message": message or messages.get(status, "Error"), "documentation_url": _DOCS, "status": str(status)}
        return Response.json(body, status, self.rate_limit.headers())

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.fault == "rate_limit":
            body = {"message": "API rate limit exceeded for user ID 1001.", "documentation_url": _RATE_DOCS}
            response = Response.json(body, 403, self.rate_limit.headers(exhausted_until=now() + fault.reset_in))
        elif fault.fault == "secondary_rate_limit":
            body = {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "documentation_url": _RATE_DOCS,
            }
            response = Response.json(body, 403, self.rate_limit.headers())
        else:
            response = self.error(fault.status or 503)
        if fault.retry_after is not None:
            response.headers.append(("retry-after", str(fault.retry_after)))
        return response

    def handle(self, request: Request) -> Response:
        version = request.header("X-GitHub-Api-Version")
        if version is not None and version not in SUPPORTED_VERSIONS:
            return self.error(400, f"Unsupported 'X-GitHub-Api-Version' header value: {version}")
        return super().handle(request)

    # Endpoints

    def list_issues(self, request: Request, owner: str, repository: str) -> Response:
        if not self._is_repository(owner, repository):
            return self.error(404)
        state = request.param("state", "open")
        sort = request.param("sort", "created")
        direction = request.param("direction", "desc")
        since_text = request.param("since")
        if (
            state not in ("open", "closed", "all")
            or sort not in ("created", "updated", "comments")
            or (direction not in ("asc", "desc"))
        ):
            return self.error(422)
        try:
            since = parse_instant(since_text) if since_text else None
        except ValueError:
            return self.error(422)
        per_page = request.int_param("per_page", 30, minimum=1, maximum=100)
        page = request.int_param("page", 1, minimum=1)
        selection = self._select(state, since, sort, direction)
        last = max(1, -(-len(selection) // per_page))
        api_base = self._api_base(request)
        with_assignee = request.header("X-GitHub-Api-Version") != "2026-03-10"
        key = (self.store.version, state, since, sort, direction, per_page, page, api_base, with_assignee)

        def make() -> bytes:
            chunk = selection[(page - 1) * per_page : page * per_page]
            items = [self._issue(self.store.get(index), request, api_base, with_assignee) for index in chunk]
            return json.dumps(items, separators=(",", ":")).encode()

        body = self.page_cache.get_or_make(key, make)
        return self._conditional(request, body, lambda: self._link_headers(request, page, last))

    def list_issues_by_repository_id(self, request: Request, repository_id: str) -> Response:
        """Where GitHub's `Link` header points: the repository by id, not by name."""
        if int(repository_id) != REPOSITORY_ID:
            return self.error(404)
        return self.list_issues(request, OWNER, REPOSITORY)

    def get_issue(self, request: Request, owner: str, repository: str, number: str) -> Response:
        if not self._is_repository(owner, repository):
            return self.error(404)
        index = self.store.index_of(int(number))
        if index is None:
            return self.error(404)
        record = self.store.get(index)
        if record is None:
            return self.error(410, "This issue was deleted")
        issue = self._issue(record, request, self._api_base(request), True)
        return self._conditional(request, json.dumps(issue).encode())

    def get_repository(self, request: Request, owner: str, repository: str) -> Response:
        if not self._is_repository(owner, repository):
            return self.error(404)
        api_base = self._api_base(request)
        body = {
            "id": REPOSITORY_ID,
            "node_id": "R_kgDOSandbox",
            "name": REPOSITORY,
            "full_name": f"{OWNER}/{REPOSITORY}",
            "private": True,
            "owner": {"login": OWNER, "id": 900, "type": "Organization"},
            "html_url": f"{request.base_url}/{OWNER}/{REPOSITORY}",
            "url": f"{api_base}/repos/{OWNER}/{REPOSITORY}",
            "has_issues": True,
            "open_issues_count": len(self._select("open", None, "created", "desc")),
            "default_branch": "main",
        }
        return self._conditional(request, json.dumps(body).encode())

    def get_user(self, request: Request) -> Response:
        return self._conditional(
            request,
            json.dumps(
                self._user(self.owner, request) | {"name": self.owner.full_name, "email": self.owner.email}
            ).encode(),
        )

    def get_rate_limit(self, request: Request) -> Response:
        values = dict(self.rate_limit.headers())
        core = {
            "limit": int(values["x-ratelimit-limit"]),
            "remaining": int(values["x-ratelimit-remaining"]),
            "reset": int(values["x-ratelimit-reset"]),
            "used": int(values["x-ratelimit-used"]),
        }
        return Response.json({"resources": {"core": core}, "rate": core}, 200, self.rate_limit.headers())

    # Helpers

    def _is_repository(self, owner: str, repository: str) -> bool:
        return (owner.lower(), repository.lower()) == (OWNER, REPOSITORY)

    def _select(self, state: str, since: int | None, sort: str, direction: str) -> list[int]:
        def matches(item) -> bool:
            if state == "open" and item.state == "closed":
                return False
            if state == "closed" and item.state != "closed":
                return False
            return since is None or item.updated >= since

        sort_key = None
        if sort == "updated":
            sort_key = _by_updated
        elif sort == "comments":
            sort_key = None  # comments are not part of the cheap core: sorted below from full records
        key = ("github", state, since, sort, direction)
        if sort != "comments":
            return self.store.select(key, matches, lower=since, sort_key=sort_key, reverse=direction == "desc")
        selection = self.store.select((*key, "unsorted"), matches, lower=since)
        return sorted(selection, key=lambda index: (self.store.get(index).comments, index), reverse=direction == "desc")

    def _conditional(
        self, request: Request, body: bytes, headers: Callable[[], list[tuple[str, str]]] = list
    ) -> Response:
        """ETag handling: a matching If-None-Match answers 304 without counting against the rate limit; `headers`
        gives the page's own headers, only when it is sent."""
        etag = _weak_etag(body)
        wanted = request.header("If-None-Match")
        if wanted is not None and (wanted.strip() == "*" or etag in [tag.strip() for tag in wanted.split(",")]):
            return Response(304, b"", [("ETag", etag), *self.rate_limit.headers()])
        if not self.rate_limit.consume():
            return self.fault_response(Fault("rate_limit", reset_in=0), request)
        return Response(
            200,
            body,
            [
                ("ETag", etag),
                ("Cache-Control", "private, max-age=60, s-maxage=60"),
                *headers(),
                *self.rate_limit.headers(),
            ],
        )

    def _link_headers(self, request: Request, page: int, last: int) -> list[tuple[str, str]]:
        """Like GitHub, the links name the repository by id (`/repositories/{id}/issues`), not by owner and name."""
        path = self._api_base(request)[len(request.base_url) :] + f"/repositories/{REPOSITORY_ID}/issues"
        pages = []
        if page > 1:
            pages += [("prev", min(page - 1, last))]
        if page < last:
            pages += [("next", page + 1), ("last", last)]
        if page > 1:
            pages += [("first", 1)]
        return [("Link", page_links(request, "page", pages, path=path))] if pages else []

    def _api_base(self, request: Request) -> str:
        return request.base_url + ("/api/v3" if request.path.startswith("/api/v3/") else "")

    def _user(self, user: SandboxUser, request: Request) -> dict:
        return {
            "login": user.username,
            "id": 1001 + user.index,
            "node_id": f"U_sandbox{user.index}",
            "html_url": f"{request.base_url}/{user.username}",
            "type": "User",
            "site_admin": False,
        }

    def _issue(self, record: TaskRecord, request: Request, api_base: str, with_assignee: bool) -> dict:
        number = record.number
        kind = "pull" if record.is_pull_request else "issues"
        assignees = [self._user(self.users[index], request) for index in record.assignees]
        item = {
            "url": f"{api_base}/repos/{OWNER}/{REPOSITORY}/issues/{number}",
            "repository_url": f"{api_base}/repos/{OWNER}/{REPOSITORY}",
            "html_url": f"{request.base_url}/{OWNER}/{REPOSITORY}/{kind}/{number}",
            "id": 40_000_000 + number,
            "node_id": f"I_kwSandbox{number}",
            "number": number,
            "title": record.title,
            "user": self._user(self.users[record.reporter], request),
            "labels": [
                {"id": 3_330_000 + i, "name": label, "color": _LABEL_COLORS.get(label, "ededed"), "default": False}
                for i, label in enumerate(record.labels)
            ],
            "state": "closed" if record.state == "closed" else "open",
            "state_reason": record.resolution,
            "locked": False,
            "assignee": assignees[0] if assignees else None,
            "assignees": assignees,
            "milestone": None,
            "comments": record.comments,
            "created_at": iso_z(record.created),
            "updated_at": iso_z(record.updated),
            "closed_at": iso_z(record.closed),
            "author_association": "MEMBER",
            "body": record.description,
        }
        if not with_assignee:
            del item["assignee"]
        if record.is_pull_request:
            merged = record.closed if record.resolution == "completed" else None
            item["draft"] = False
            item["pull_request"] = {
                "url": f"{api_base}/repos/{OWNER}/{REPOSITORY}/pulls/{number}",
                "html_url": f"{request.base_url}/{OWNER}/{REPOSITORY}/pull/{number}",
                "diff_url": f"{request.base_url}/{OWNER}/{REPOSITORY}/pull/{number}.diff",
                "patch_url": f"{request.base_url}/{OWNER}/{REPOSITORY}/pull/{number}.patch",
                "merged_at": iso_z(merged),
            }
        return item


def _by_updated(item) -> tuple[int, int]:
    return item.updated, item.created


@lru_cache(maxsize=512)
def _weak_etag(body: bytes) -> str:
    """The ETag of a page, computed once per page the page cache hands out (the same bytes object every time: its
    hash is kept by the object, so finding it here costs next to nothing, where hashing the page cost 0.1 ms)."""
    return 'W/"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'
