"""Jira imitation: Cloud ``/rest/api/3/search/jql`` (nextPageToken/isLast) and Server-style ``/rest/api/2/search``."""

from __future__ import annotations

import base64
import binascii
import json

from sandbox.apis.base import BaseApi, basic_credentials, bearer_token
from sandbox.apis.jql import Jql, matches_bounds, parse_jql
from sandbox.messages import Request, Response
from sandbox.people import SandboxUser
from sandbox.store import LazyStore
from sandbox.tasks import TaskRecord
from sandbox.timeline import jira_time

PROJECT_KEY = "SHOP"
PROJECT_ID = "10000"
PROJECT_NAME = "Webshop"
ALL_FIELDS = (
    "summary",
    "status",
    "assignee",
    "reporter",
    "created",
    "updated",
    "resolutiondate",
    "resolution",
    "timeoriginalestimate",
    "timeestimate",
    "timespent",
    "issuetype",
    "priority",
    "labels",
    "project",
    "description",
)
_STATUSES = {
    "open": {"id": "10000", "name": "To Do", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
    "in_progress": {
        "id": "3",
        "name": "In Progress",
        "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
    },
    "closed": {"id": "10001", "name": "Done", "statusCategory": {"id": 3, "key": "done", "name": "Done"}},
}
_RESOLUTIONS = {"completed": {"id": "10000", "name": "Done"}, "not_planned": {"id": "10001", "name": "Won't Do"}}


class JiraApi(BaseApi):
    kind = "jira"
    routes = (
        (r"/rest/api/3/search/jql", "search_jql", True),
        (r"/rest/api/2/search", "search_classic", True),
        (r"/rest/api/3/search", "search_removed", True),
        (r"/rest/api/([23])/issue/([^/]+)", "get_issue", True),
        (r"/rest/api/[23]/myself", "get_myself", True),
        (r"/rest/api/[23]/project/([^/]+)", "get_project", True),
        (r"/rest/api/[23]/serverInfo", "get_server_info", False),
    )
    pages = (
        (rf"/browse/{PROJECT_KEY}-\d+", f"{PROJECT_KEY} issue"),
        (rf"/projects/{PROJECT_KEY}(?:/.*)?", PROJECT_KEY),
        (rf"/jira/software/projects/{PROJECT_KEY}(?:/.*)?", PROJECT_KEY),
    )

    def __init__(self, *, store: LazyStore, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = store

    def authenticate(self, request: Request) -> SandboxUser | None:
        credentials = basic_credentials(request)
        if credentials is not None:
            email, token = credentials
            return self.owner if email.lower() == self.username.lower() and token == self.token else None
        return self.user_by_token(bearer_token(request))

    def error(self, status: int, message: str | None = None) -> Response:
        messages = {
            401: "You are not authenticated. Authentication required to perform this operation.",
            403: "You do not have permission to perform this operation.",
            404: "Issue does not exist or you do not have permission to see it.",
            429: "Rate limit exceeded.",
            503: "Service unavailable.",
        }
        return Response.json({"errorMessages": [message or messages.get(status, "Error")], "errors": {}}, status)

    def fault_response(self, fault, request: Request) -> Response:
        response = super().fault_response(fault, request)
        if response.status == 429:
            response.headers += [
                ("X-RateLimit-Limit", "100"),
                ("X-RateLimit-Remaining", "0"),
                ("RateLimit-Reason", "jira-burst-based"),
            ]
        return response

    # Endpoints

    def search_jql(self, request: Request) -> Response:
        options = self._options(request)
        jql, problem = self._jql(options.get("jql"))
        if problem is not None:
            return problem
        max_results = min(max(int(options.get("maxResults") or 50), 1), 100)
        token = options.get("nextPageToken")
        offset = _decode_token(token) if token else 0
        if offset is None:
            return self.error(400, "The provided next page token is invalid or expired.")
        fields = _fields(options.get("fields"), default=())
        selection = self._select(jql)
        chunk_end = offset + max_results
        key = (self.store.version, 3, jql, offset, max_results, fields, request.base_url)

        def make() -> bytes:
            issues = [self._issue(self.store.get(index), request, fields, 3) for index in selection[offset:chunk_end]]
            body: dict = {"issues": issues}
            if chunk_end < len(selection):
                body["nextPageToken"] = _encode_token(chunk_end)
            body["isLast"] = chunk_end >= len(selection)
            return json.dumps(body, separators=(",", ":")).encode()

        return Response(200, self.page_cache.get_or_make(key, make))

    def search_classic(self, request: Request) -> Response:
        options = self._options(request)
        jql, problem = self._jql(options.get("jql"), bounded=False)
        if problem is not None:
            return problem
        start_at = max(int(options.get("startAt") or 0), 0)
        max_results = min(max(int(options.get("maxResults") or 50), 0), 100)
        fields = _fields(options.get("fields"), default=ALL_FIELDS)
        selection = self._select(jql)
        key = (self.store.version, 2, jql, start_at, max_results, fields, request.base_url)

        def make() -> bytes:
            chunk = selection[start_at : start_at + max_results]
            issues = [self._issue(self.store.get(index), request, fields, 2) for index in chunk]
            body = {
                "expand": "names,schema",
                "startAt": start_at,
                "maxResults": max_results,
                "total": len(selection),
                "issues": issues,
            }
            return json.dumps(body, separators=(",", ":")).encode()

        return Response(200, self.page_cache.get_or_make(key, make))

    def search_removed(self, request: Request) -> Response:
        message = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
        return self.error(410, message)

    def get_issue(self, request: Request, version: str, id_or_key: str) -> Response:
        number = None
        if id_or_key.upper().startswith(f"{PROJECT_KEY}-") and id_or_key[len(PROJECT_KEY) + 1 :].isdigit():
            number = int(id_or_key[len(PROJECT_KEY) + 1 :])
        elif id_or_key.isdigit():
            number = int(id_or_key) - int(PROJECT_ID)
        index = self.store.index_of(number) if number is not None else None
        record = self.store.get(index) if index is not None else None
        if record is None:
            return self.error(404)
        fields = _fields(request.param("fields"), default=ALL_FIELDS)
        return Response.json(self._issue(record, request, fields, int(version)))

    def get_myself(self, request: Request) -> Response:
        return Response.json(self._user(self.owner, request, force_email=True))

    def get_project(self, request: Request, key: str) -> Response:
        if key.upper() not in (PROJECT_KEY, PROJECT_ID):
            return self.error(404, f"No project could be found with key '{key}'.")
        return Response.json(
            {
                "self": f"{request.base_url}/rest/api/3/project/{PROJECT_ID}",
                "id": PROJECT_ID,
                "key": PROJECT_KEY,
                "name": PROJECT_NAME,
                "projectTypeKey": "software",
            }
        )

    def get_server_info(self, request: Request) -> Response:
        return Response.json(
            {
                "baseUrl": request.base_url,
                "version": "1001.0.0-SNAPSHOT",
                "deploymentType": "Cloud",
                "serverTitle": "Siisurit sandbox Jira",
            }
        )

    # Helpers

    def _options(self, request: Request) -> dict:
        if request.method == "POST":
            options = request.json_body()
            if isinstance(options.get("fields"), list):
                options["fields"] = ",".join(options["fields"])
            return options
        options = {name: values[0] for name, values in request.query.items()}
        if "fields" in request.query:
            options["fields"] = ",".join(request.query["fields"])
        return options

    def _jql(self, text: str | None, bounded: bool = True) -> tuple[Jql | None, Response | None]:
        jql = parse_jql(text or "")
        if jql.project is None and bounded:
            message = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
            return None, self.error(400, message)
        if jql.project is not None and jql.project.upper() not in (PROJECT_KEY, PROJECT_ID):
            return None, self.error(400, f"The value '{jql.project}' does not exist for the field 'project'.")
        return jql, None

    def _select(self, jql: Jql) -> list[int]:
        sort_key = None
        if jql.order_field in ("updated", "created"):
            field = jql.order_field
            sort_key = (lambda item: (item.updated, item.created)) if field == "updated" else None
        lower = min((value for field, operator, value in jql.bounds if operator.startswith(">")), default=None)
        return self.store.select(
            ("jira", jql.bounds, jql.order_field, jql.descending),
            lambda item: matches_bounds(item, jql.bounds),
            lower=lower,
            sort_key=sort_key,
            reverse=jql.descending,
        )

    def _user(self, user: SandboxUser, request: Request, version: int = 3, force_email: bool = False) -> dict:
        """Cloud names people by account id; Server/Data Center (the v2 search here) by user name and key."""
        if version == 2:
            body = {
                "self": f"{request.base_url}/rest/api/2/user?username={user.username}",
                "name": user.username,
                "key": user.username,
                "displayName": user.full_name,
                "active": True,
                "timeZone": "Europe/Vienna",
            }
        else:
            account = f"5b10a2844c20165700ede{user.index:03x}"
            body = {
                "self": f"{request.base_url}/rest/api/3/user?accountId={account}",
                "accountId": account,
                "accountType": "atlassian",
                "displayName": user.full_name,
                "active": True,
                "timeZone": "Europe/Vienna",
            }
        if force_email or user.index % 3 != 2:  # some people hide their e-mail address
            body["emailAddress"] = user.email
        return body

    def _issue(self, record: TaskRecord, request: Request, fields: tuple[str, ...], version: int) -> dict:
        issue_id = str(int(PROJECT_ID) + record.number)
        issue = {
            "expand": "",
            "id": issue_id,
            "self": f"{request.base_url}/rest/api/{version}/issue/{issue_id}",
            "key": f"{PROJECT_KEY}-{record.number}",
        }
        if fields:
            every = self._fields(record, request, version)
            issue["fields"] = {name: every[name] for name in fields if name in every}
        return issue

    def _fields(self, record: TaskRecord, request: Request, version: int) -> dict:
        remaining = None if record.estimate is None else max(record.estimate - (record.spent or 0), 0)
        description = (
            record.description
            if version == 2
            else {
                "type": "doc",
                "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": record.description}]}],
            }
        )
        return {
            "summary": record.title,
            "status": _STATUSES[record.state],
            "assignee": self._user(self.users[record.assignees[0]], request, version) if record.assignees else None,
            "reporter": self._user(self.users[record.reporter], request, version),
            "created": jira_time(record.created),
            "updated": jira_time(record.updated),
            "resolutiondate": jira_time(record.closed),
            "resolution": _RESOLUTIONS.get(record.resolution or ""),
            "timeoriginalestimate": record.estimate,
            "timeestimate": remaining,
            "timespent": record.spent,
            "issuetype": {"id": "10001", "name": "Bug" if "bug" in record.labels else "Task", "subtask": False},
            "priority": {"id": "3", "name": "Medium"},
            "labels": list(record.labels),
            "project": {"id": PROJECT_ID, "key": PROJECT_KEY, "name": PROJECT_NAME},
            "description": description,
        }


def _fields(text: str | None, *, default: tuple[str, ...]) -> tuple[str, ...]:
    if not text:
        return default
    names = [name.strip() for name in text.split(",") if name.strip() and not name.strip().startswith("-")]
    if "*all" in names or "*navigable" in names:
        return ALL_FIELDS
    return tuple(dict.fromkeys(names))


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"sandbox:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, offset = text.partition(":")
    return int(offset) if prefix == "sandbox" and offset.isdigit() else None
