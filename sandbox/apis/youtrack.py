"""YouTrack REST imitation: issues of project DEMO with custom fields, admin projects, time-tracking settings."""

from __future__ import annotations

import json
import re

from sandbox.apis.base import BaseApi, bearer_token
from sandbox.apis.youtrack_fields import FieldTree, parse_fields, pick
from sandbox.messages import Request, Response
from sandbox.people import SandboxUser
from sandbox.store import LazyStore
from sandbox.tasks import TaskRecord
from sandbox.timeline import epoch_ms, human_period

PROJECT_ID, SHORT_NAME, PROJECT_NAME = "0-0", "DEMO", "Demo"
DEFAULT_TOP = 42
_PREFIX = r"(?:/youtrack)?/api"
_PROJECT_TERM = re.compile(r"\b(?:project|in):\s*(\{[^}]*\}|[^\s{}]+)", re.IGNORECASE)
_SORT_TERM = re.compile(r"\bsort\s+by:\s*(updated|created)(?:\s+(asc|desc))?", re.IGNORECASE)
_PROJECT = {"$type": "Project", "id": PROJECT_ID, "shortName": SHORT_NAME, "name": PROJECT_NAME}
_STATES = {
    ("open", None): ("Open", False),
    ("in_progress", None): ("In Progress", False),
    ("closed", "completed"): ("Fixed", True),
    ("closed", "not_planned"): ("Won't fix", True),
}


class YoutrackApi(BaseApi):
    kind = "youtrack"
    routes = (
        (_PREFIX + r"/issues", "list_issues", True),
        (_PREFIX + r"/issues/([^/]+)", "get_issue", True),
        (_PREFIX + r"/admin/projects", "list_projects", True),
        (_PREFIX + r"/admin/projects/([^/]+)", "get_project", True),
        (_PREFIX + r"/admin/projects/([^/]+)/issues", "list_project_issues", True),
        (_PREFIX + r"/admin/projects/([^/]+)/timeTrackingSettings", "get_time_tracking_settings", True),
        (_PREFIX + r"/users/me", "get_me", True),
    )
    pages = (
        (rf"(?:/youtrack)?/projects/{SHORT_NAME}(?:/.*)?", SHORT_NAME),
        (r"(?:/youtrack)?/newIssue", "New issue"),
        (rf"(?:/youtrack)?/issues?/{SHORT_NAME}(?:-\d+)?(?:/.*)?", SHORT_NAME),
    )

    def __init__(self, *, store: LazyStore, estimate_field: str, multi_assignee: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.estimate_field = estimate_field
        self.multi_assignee = multi_assignee

    def authenticate(self, request: Request) -> SandboxUser | None:
        return self.user_by_token(bearer_token(request))

    def error(self, status: int, message: str | None = None) -> Response:
        names = {
            400: "bad_request",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
            429: "Too Many Requests",
            503: "Service Unavailable",
        }
        descriptions = {401: "You are not logged in.", 403: "You do not have permission to perform this action."}
        body = {
            "error": names.get(status, "error"),
            "error_description": message or descriptions.get(status, f"HTTP {status} {names.get(status, '')}"),
        }
        return Response.json(body, status)

    # Endpoints

    def list_issues(self, request: Request) -> Response:
        query = request.param("query", "") or ""
        projects = [term.strip("{}").strip() for term in _PROJECT_TERM.findall(query)]
        if any(name.upper() not in (SHORT_NAME, PROJECT_NAME.upper()) for name in projects):
            return Response.json([])
        return self._list(request, query)

    def list_project_issues(self, request: Request, project: str) -> Response:
        if project not in (PROJECT_ID, SHORT_NAME):
            return self.error(404)
        return self._list(request, request.param("query", "") or "")

    def get_issue(self, request: Request, issue_id: str) -> Response:
        number = None
        for prefix in (f"{SHORT_NAME}-", "2-"):
            if issue_id.upper().startswith(prefix) and issue_id[len(prefix) :].isdigit():
                number = int(issue_id[len(prefix) :])
        index = self.store.index_of(number) if number is not None else None
        record = self.store.get(index) if index is not None else None
        if record is None:
            return self.error(404)
        return Response.json(pick(self._issue(record), _tree(request)))

    def list_projects(self, request: Request) -> Response:
        return Response.json([pick(_PROJECT, _tree(request))])

    def get_project(self, request: Request, project: str) -> Response:
        if project not in (PROJECT_ID, SHORT_NAME):
            return self.error(404)
        return Response.json(pick(_PROJECT, _tree(request)))

    def get_time_tracking_settings(self, request: Request, project: str) -> Response:
        if project not in (PROJECT_ID, SHORT_NAME):
            return self.error(404)
        settings = {
            "$type": "ProjectTimeTrackingSettings",
            "id": f"{PROJECT_ID}-tt",
            "enabled": True,
            "estimate": {
                "$type": "PeriodProjectCustomField",
                "id": "96-2",
                "field": {"$type": "CustomField", "id": "58-2", "name": self.estimate_field},
            },
            "timeSpent": {
                "$type": "PeriodProjectCustomField",
                "id": "96-3",
                "field": {"$type": "CustomField", "id": "58-3", "name": "Spent time"},
            },
            "workItemTypes": [
                {"$type": "WorkItemType", "id": "60-0", "name": "Development"},
                {"$type": "WorkItemType", "id": "60-1", "name": "Testing"},
            ],
        }
        return Response.json(pick(settings, _tree(request)))

    def get_me(self, request: Request) -> Response:
        return Response.json(pick(self._user(self.owner), _tree(request)))

    # Helpers

    def _list(self, request: Request, query: str) -> Response:
        skip = request.int_param("$skip", 0, minimum=0)
        top = request.int_param("$top", DEFAULT_TOP, minimum=-1)
        sort = _SORT_TERM.search(query)
        sort_field = sort.group(1).lower() if sort else None
        descending = bool(sort and (sort.group(2) or "desc").lower() == "desc")
        selection = self.store.select(
            ("youtrack", sort_field, descending),
            None,
            sort_key=(lambda item: (item.updated, item.created)) if sort_field == "updated" else None,
            reverse=descending,
        )
        tree = _tree(request)
        fields_text = request.param("fields")
        key = (self.store.version, sort_field, descending, fields_text, skip, top)

        def make() -> bytes:
            chunk = selection[skip:] if top < 0 else selection[skip : skip + top]
            items = [pick(self._issue(self.store.get(index)), tree) for index in chunk]
            return json.dumps(items, separators=(",", ":")).encode()

        return Response(200, self.page_cache.get_or_make(key, make))

    def _user(self, user: SandboxUser) -> dict:
        return {
            "$type": "User",
            "id": f"1-{user.index + 1}",
            "login": user.username,
            "fullName": user.full_name,
            "name": user.full_name,
            "email": user.email,
            "ringId": f"ring-{user.username}",
        }

    def _period(self, seconds: int | None, period_id: str) -> dict | None:
        if seconds is None:
            return None
        return {
            "$type": "PeriodValue",
            "id": period_id,
            "minutes": seconds // 60,
            "presentation": human_period(seconds),
        }

    def _issue(self, record: TaskRecord) -> dict:
        state_name, resolved = _STATES[(record.state, record.resolution if record.state == "closed" else None)]
        assignees = [self._user(self.users[index]) for index in record.assignees]
        if self.multi_assignee:
            assignee = {"$type": "MultiUserIssueCustomField", "id": "92-4", "name": "Assignee", "value": assignees}
        else:
            assignee = {
                "$type": "SingleUserIssueCustomField",
                "id": "92-4",
                "name": "Assignee",
                "value": assignees[0] if assignees else None,
            }
        return {
            "$type": "Issue",
            "id": f"2-{record.number}",
            "idReadable": f"{SHORT_NAME}-{record.number}",
            "numberInProject": record.number,
            "summary": record.title,
            "description": record.description,
            "created": epoch_ms(record.created),
            "updated": epoch_ms(record.updated),
            "resolved": epoch_ms(record.closed) if resolved else None,
            "project": _PROJECT,
            "reporter": self._user(self.users[record.reporter]),
            "customFields": [
                {
                    "$type": "StateIssueCustomField",
                    "id": "92-3",
                    "name": "State",
                    "value": {
                        "$type": "StateBundleElement",
                        "id": f"state-{state_name}",
                        "name": state_name,
                        "isResolved": resolved,
                    },
                },
                {
                    "$type": "SingleEnumIssueCustomField",
                    "id": "92-2",
                    "name": "Priority",
                    "value": {"$type": "EnumBundleElement", "id": "priority-normal", "name": "Normal"},
                },
                assignee,
                {
                    "$type": "PeriodIssueCustomField",
                    "id": "92-7",
                    "name": self.estimate_field,
                    "value": self._period(record.estimate, f"estimate-{record.number}"),
                },
                {
                    "$type": "PeriodIssueCustomField",
                    "id": "92-8",
                    "name": "Spent time",
                    "value": self._period(record.spent, f"spent-{record.number}"),
                },
            ],
        }


def _tree(request: Request) -> FieldTree | None:
    text = request.param("fields")
    return parse_fields(text) if text else None
