"""GitLab REST v4 imitation: issues and merge requests of project 42 ``acme/webshop``, offset paging headers."""

from __future__ import annotations

import json

from sandbox.apis.base import BaseApi, bearer_token, page_links
from sandbox.messages import Request, Response
from sandbox.people import SandboxUser
from sandbox.store import LazyStore
from sandbox.tasks import TaskRecord
from sandbox.timeline import human_period, iso_ms_z, parse_instant

PROJECT_ID = 42
PROJECT_PATH = "acme/webshop"
#: Above this many matches GitLab leaves out x-total, x-total-pages and rel="last".
COUNT_LIMIT = 10_000
_PROJECT = r"/api/v4/projects/([^/]+)"


class GitlabApi(BaseApi):
    kind = "gitlab"
    routes = (
        (_PROJECT, "get_project", True),
        (_PROJECT + r"/issues", "list_issues", True),
        (_PROJECT + r"/issues/(\d+)", "get_issue", True),
        (_PROJECT + r"/merge_requests", "list_merge_requests", True),
        (_PROJECT + r"/merge_requests/(\d+)", "get_merge_request", True),
        (r"/api/v4/user", "get_user", True),
        (r"/api/v4/version", "get_version", True),
    )
    pages = ((rf"/{PROJECT_PATH}(?:\.git)?(?:/.*)?", PROJECT_PATH),)

    def __init__(self, *, issues: LazyStore, merge_requests: LazyStore, **kwargs) -> None:
        super().__init__(**kwargs)
        self.issues = issues
        self.merge_requests = merge_requests

    def authenticate(self, request: Request) -> SandboxUser | None:
        return self.user_by_token(request.header("PRIVATE-TOKEN") or bearer_token(request))

    def error(self, status: int, message: str | None = None) -> Response:
        if status == 429 and message is None:
            return Response.text("Retry later", 429)
        messages = {401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found", 503: "503 Service Unavailable"}
        return Response.json({"message": message or messages.get(status, f"{status} Error")}, status)

    def fault_response(self, fault, request: Request) -> Response:
        response = super().fault_response(fault, request)
        if response.status == 429:
            response.headers += [
                ("RateLimit-Name", "throttle_authenticated_api"),
                ("RateLimit-Limit", "2000"),
                ("RateLimit-Observed", "2001"),
                ("RateLimit-Remaining", "0"),
            ]
        return response

    # Endpoints

    def get_project(self, request: Request, project: str) -> Response:
        if not _is_project(project):
            return self.error(404, "404 Project Not Found")
        return Response.json(
            {
                "id": PROJECT_ID,
                "name": "webshop",
                "path": "webshop",
                "path_with_namespace": PROJECT_PATH,
                "name_with_namespace": "acme / webshop",
                "web_url": f"{request.base_url}/{PROJECT_PATH}",
                "default_branch": "main",
                "visibility": "private",
                "issues_enabled": True,
                "merge_requests_enabled": True,
            }
        )

    def list_issues(self, request: Request, project: str) -> Response:
        return self._list(request, project, self.issues, merge_requests=False)

    def list_merge_requests(self, request: Request, project: str) -> Response:
        return self._list(request, project, self.merge_requests, merge_requests=True)

    def get_issue(self, request: Request, project: str, iid: str) -> Response:
        return self._single(request, project, self.issues, int(iid), merge_requests=False)

    def get_merge_request(self, request: Request, project: str, iid: str) -> Response:
        return self._single(request, project, self.merge_requests, int(iid), merge_requests=True)

    def get_user(self, request: Request) -> Response:
        return Response.json(self._user(self.owner, request) | {"email": self.owner.email})

    def get_version(self, request: Request) -> Response:
        return Response.json({"version": "17.5.0-ee", "revision": "sandbox"})

    # Helpers

    def _list(self, request: Request, project: str, store: LazyStore, *, merge_requests: bool) -> Response:
        if not _is_project(project):
            return self.error(404, "404 Project Not Found")
        state = request.param("state", "all") or "all"
        allowed = ("opened", "closed", "merged", "locked", "all") if merge_requests else ("opened", "closed", "all")
        order_by = request.param("order_by", "created_at")
        sort = request.param("sort", "desc")
        if state not in allowed or order_by not in ("created_at", "updated_at") or sort not in ("asc", "desc"):
            return self.error(400, "400 Bad request - state, order_by or sort does not have a valid value")
        bounds = {}
        for name in ("updated_after", "updated_before", "created_after", "created_before"):
            text = request.param(name)
            bounds[name] = parse_instant(text) if text else None
        iids = frozenset(int(value) for value in request.params("iids"))
        per_page = request.int_param("per_page", 20, minimum=1, maximum=100)
        page = request.int_param("page", 1, minimum=1)

        def matches(item) -> bool:
            if state != "all" and _state(item, merge_requests) != state:
                return False
            for name, value in bounds.items():
                if value is None:
                    continue
                attribute = item.updated if name.startswith("updated") else item.created
                if (attribute < value) if name.endswith("after") else (attribute > value):
                    return False
            return True

        key = ("gitlab", merge_requests, state, tuple(bounds.values()), order_by, sort)
        selection = store.select(
            key,
            matches,
            lower=bounds["updated_after"] or bounds["created_after"],
            sort_key=_by_updated if order_by == "updated_at" else None,
            reverse=sort == "desc",
        )
        if iids:
            selection = [index for index in selection if index + 1 in iids]
        total = len(selection)
        total_pages = max(1, -(-total // per_page))
        headers = [
            ("x-page", str(page)),
            ("x-per-page", str(per_page)),
            ("x-next-page", str(page + 1) if page < total_pages else ""),
            ("x-prev-page", str(page - 1) if page > 1 else ""),
        ]
        pages = []
        if page > 1:
            pages.append(("prev", page - 1))
        if page < total_pages:
            pages.append(("next", page + 1))
        pages.append(("first", 1))
        if total <= COUNT_LIMIT:
            headers += [("x-total", str(total)), ("x-total-pages", str(total_pages))]
            pages.append(("last", total_pages))
        headers.append(("Link", page_links(request, "page", pages)))
        cache_key = (store.version, key, tuple(sorted(iids)), per_page, page, request.base_url)

        def make() -> bytes:
            chunk = selection[(page - 1) * per_page : page * per_page]
            items = [self._item(store.get(index), request, merge_requests) for index in chunk]
            return json.dumps(items, separators=(",", ":")).encode()

        return Response(200, self.page_cache.get_or_make(cache_key, make), headers)

    def _single(self, request: Request, project: str, store: LazyStore, iid: int, *, merge_requests: bool) -> Response:
        if not _is_project(project):
            return self.error(404, "404 Project Not Found")
        index = store.index_of(iid)
        record = store.get(index) if index is not None else None
        if record is None:
            return self.error(404)
        return Response.json(self._item(record, request, merge_requests))

    def _user(self, user: SandboxUser, request: Request) -> dict:
        return {
            "id": 11 + user.index,
            "username": user.username,
            "name": user.full_name,
            "state": "active",
            "locked": False,
            "avatar_url": None,
            "web_url": f"{request.base_url}/{user.username}",
        }

    def _item(self, record: TaskRecord, request: Request, merge_requests: bool) -> dict:
        iid = record.number
        sign, path, base_id = ("!", "merge_requests", 7_000_000) if merge_requests else ("#", "issues", 5_000_000)
        assignees = [self._user(self.users[index], request) for index in record.assignees]
        state = _state(record, merge_requests)
        closer = self._user(self.users[record.assignees[0] if record.assignees else record.reporter], request)
        item = {
            "id": base_id + iid,
            "iid": iid,
            "project_id": PROJECT_ID,
            "title": record.title,
            "description": record.description,
            "state": state,
            "created_at": iso_ms_z(record.created, record.millis),
            "updated_at": iso_ms_z(record.updated, record.millis + 7),
            "closed_at": iso_ms_z(record.closed, record.millis + 3) if state == "closed" else None,
            "closed_by": closer if state == "closed" else None,
            "labels": list(record.labels),
            "milestone": None,
            "author": self._user(self.users[record.reporter], request),
            "assignees": assignees,
            "assignee": assignees[0] if assignees else None,
            "user_notes_count": record.comments,
            "web_url": f"{request.base_url}/{PROJECT_PATH}/-/{path}/{iid}",
            "references": {"short": f"{sign}{iid}", "relative": f"{sign}{iid}", "full": f"{PROJECT_PATH}{sign}{iid}"},
            "time_stats": {
                "time_estimate": record.estimate or 0,
                "total_time_spent": record.spent or 0,
                "human_time_estimate": human_period(record.estimate),
                "human_total_time_spent": human_period(record.spent),
            },
        }
        if merge_requests:
            item |= {
                "merged_at": iso_ms_z(record.closed, record.millis + 3) if state == "merged" else None,
                "merged_by": closer if state == "merged" else None,
                "source_branch": f"feature/{iid}",
                "target_branch": "main",
                "draft": False,
                "merge_status": "can_be_merged",
            }
        else:
            item |= {"type": "ISSUE", "due_date": None, "confidential": False}
        return item


def _is_project(project: str) -> bool:
    return project == str(PROJECT_ID) or project.lower().removesuffix(".git") == PROJECT_PATH


def _state(item, merge_request: bool) -> str:
    if item.state != "closed":
        return "opened"
    if merge_request and item.resolution != "not_planned":
        return "merged"
    return "closed"


def _by_updated(item) -> tuple[int, int]:
    return item.updated, item.created
