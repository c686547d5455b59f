"""Kimai 2 imitation: timesheets (page/size, X-Total-Pages, 404 past the end, full=true) and master data."""

from __future__ import annotations

import json

from sandbox.apis.base import BaseApi, bearer_token
from sandbox.apis.kimai_data import (
    ACTIVITIES,
    ACTIVITY_BY_ID,
    CUSTOMER_BY_ID,
    CUSTOMERS,
    PROJECT_BY_ID,
    PROJECTS,
    SEEDED_PROJECT_ID,
    embedded,
)
from sandbox.entries import EntryRecord
from sandbox.messages import Request, Response
from sandbox.people import SandboxUser
from sandbox.store import LazyStore
from sandbox.timeline import local_offset_time, parse_instant

MAX_PAGE_SIZE = 500
_HOURLY_RATE, _INTERNAL_RATE = 90.0, 60.0
_TRUE = ("1", "true", "yes", "on")
_INVOICED_UNTIL = 1704067200  # entries before 2024 count as exported (invoiced)
_TIMESHEET = (
    '{"activity":%s,"project":%s,"user":%s,"tags":%s,"id":%d,"begin":"%s","end":"%s","duration":%d,"break":0,'
    '"description":%s,"rate":%r,"internalRate":%r,"exported":%s,"billable":%s,"metaFields":[]}'
)
_ORDER_KEYS = {
    "begin": lambda item: item.begin,
    "end": lambda item: item.begin + item.duration,
    "rate": lambda item: item.duration,
    "id": None,
}


class KimaiApi(BaseApi):
    kind = "kimai"
    routes = (
        (r"/api/ping", "ping", True),
        (r"/api/version", "version", True),
        (r"/api/timesheets", "list_timesheets", True),
        (r"/api/timesheets/(\d+)", "get_timesheet", True),
        (r"/api/customers", "list_customers", True),
        (r"/api/customers/(\d+)", "get_customer", True),
        (r"/api/projects", "list_projects", True),
        (r"/api/projects/(\d+)", "get_project", True),
        (r"/api/activities", "list_activities", True),
        (r"/api/activities/(\d+)", "get_activity", True),
        (r"/api/users", "list_users", True),
        (r"/api/users/me", "get_me", True),
        (r"/api/users/(\d+)", "get_user", True),
    )
    pages = (
        (r"/[a-z]{2}(?:_[A-Z]{2})?/admin/(?:project|customer|activity)/\d+(?:/details)?", "Kimai admin"),
        (r"/[a-z]{2}(?:_[A-Z]{2})?/timesheet/?", "Kimai timesheet"),
    )

    def __init__(
        self, *, store: LazyStore, seeded_region: tuple[int, int], other_region: tuple[int, int], **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.seeded_region = seeded_region
        self.other_region = other_region
        self._user_json = [self._user(user) for user in self.users]
        self._user_text = [_compact(user) for user in self._user_json]
        self._activity_json = {activity["id"]: _compact(embedded(activity)) for activity in ACTIVITIES}
        self._project_json = {
            project["id"]: _compact(embedded(project) | {"customer": embedded(CUSTOMER_BY_ID[project["customer"]])})
            for project in PROJECTS
        }

    def authenticate(self, request: Request) -> SandboxUser | None:
        token = bearer_token(request)
        if token is None and request.header("X-AUTH-USER") == self.username:
            token = request.header("X-AUTH-TOKEN")
        return self.user_by_token(token)

    def error(self, status: int, message: str | None = None) -> Response:
        messages = {
            400: "Bad Request",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
            429: "Too Many Requests",
            503: "Service Unavailable",
        }
        return Response.json({"code": status, "message": message or messages.get(status, "Error")}, status)

    # Endpoints

    def ping(self, request: Request) -> Response:
        return Response.json({"message": "pong"})

    def version(self, request: Request) -> Response:
        return Response.json({"version": "2.26.0", "versionId": 22600, "copyright": "Kimai by Kevin Papst"})

    def list_timesheets(self, request: Request) -> Response:
        owner = self.owner
        user_values = request.params("users") or [request.param("user") or str(owner.index + 1)]
        users = None if "all" in user_values else frozenset(int(value) - 1 for value in user_values if value)
        projects = _ids(request, "project", "projects")
        customers = _ids(request, "customer", "customers")
        if customers:
            by_customer = {project["id"] for project in PROJECTS if project["customer"] in customers}
            projects = projects & by_customer if projects else frozenset(by_customer)
            if not projects:
                projects = frozenset({-1})
        activities = _ids(request, "activity", "activities")
        begin = _local(request.param("begin"), owner)
        end = _local(request.param("end"), owner)
        modified_text = request.param("modified_after")
        modified_after = parse_instant(modified_text) if modified_text else None
        billable = request.param("billable")
        term = (request.param("term") or "").lower()
        order_by = request.param("orderBy", "begin") or "begin"
        if order_by not in _ORDER_KEYS:
            return self.error(400, f'Parameter "orderBy" of value "{order_by}" violated a constraint')
        descending = (request.param("order", "DESC") or "DESC").upper() != "ASC"
        if request.param("active") in _TRUE:
            return self._page(request, [], "active")
        lower = max(value for value in (begin, modified_after, 0) if value is not None) or None

        def matches(item) -> bool:
            if projects and item.project not in projects:
                return False
            if users is not None and item.user not in users:
                return False
            if (begin is not None and item.begin < begin) or (end is not None and item.begin > end):
                return False
            if modified_after is not None and item.modified < modified_after:
                return False
            # Only full records (see _select_by_record) are asked about these:
            if activities and item.activity not in activities:
                return False
            if billable is not None and item.billable != (billable in _TRUE):
                return False
            return not term or term in item.text.lower()

        regions = []
        if not projects or SEEDED_PROJECT_ID in projects:
            regions.append(self.seeded_region)
        if not projects or projects - {SEEDED_PROJECT_ID}:
            regions.append(self.other_region)
        whole_regions = not projects or projects == {SEEDED_PROJECT_ID}
        needs_check = (
            users is not None
            or begin is not None
            or end is not None
            or modified_after is not None
            or self.store.has_extras
            or not whole_regions
        )
        if activities or billable is not None or term:
            selection = self._select_by_record(matches, regions, lower, end, order_by, descending)
        else:
            key = ("kimai", users, projects, begin, end, modified_after, order_by, descending)
            selection = self.store.select(
                key,
                matches if needs_check else None,
                regions=regions,
                lower=lower,
                upper=end,
                sort_key=_ORDER_KEYS[order_by],
                reverse=descending,
                presorted=len(regions) == 1,
            )
        return self._page(
            request,
            selection,
            (
                users,
                projects,
                begin,
                end,
                modified_after,
                order_by,
                descending,
                tuple(sorted(activities)),
                billable,
                term,
            ),
        )

    def get_timesheet(self, request: Request, entry_id: str) -> Response:
        index = self.store.index_of(int(entry_id))
        record = self.store.get(index) if index is not None else None
        if record is None:
            return self.error(404)
        return Response(200, self._timesheet(record, full=True).encode())

    def list_customers(self, request: Request) -> Response:
        return Response.json(_visible(request, CUSTOMERS))

    def get_customer(self, request: Request, customer_id: str) -> Response:
        return self._single(CUSTOMER_BY_ID.get(int(customer_id)))

    def list_projects(self, request: Request) -> Response:
        customers = _ids(request, "customer", "customers")
        items = [project for project in PROJECTS if not customers or project["customer"] in customers]
        return Response.json(_visible(request, items))

    def get_project(self, request: Request, project_id: str) -> Response:
        return self._single(PROJECT_BY_ID.get(int(project_id)))

    def list_activities(self, request: Request) -> Response:
        projects = _ids(request, "project", "projects")
        only_globals = request.param("globals") in _TRUE
        items = [
            activity
            for activity in ACTIVITIES
            if (activity["project"] is None or not only_globals)
            and (not projects or activity["project"] is None or activity["project"] in projects)
        ]
        return Response.json(_visible(request, items))

    def get_activity(self, request: Request, activity_id: str) -> Response:
        return self._single(ACTIVITY_BY_ID.get(int(activity_id)))

    def list_users(self, request: Request) -> Response:
        return Response.json(self._user_json)

    def get_me(self, request: Request) -> Response:
        return Response.json(self._user_json[self.owner.index])

    def get_user(self, request: Request, user_id: str) -> Response:
        index = int(user_id) - 1
        return self._single(self._user_json[index] if 0 <= index < len(self._user_json) else None)

    # Helpers

    def _single(self, item: dict | None) -> Response:
        return Response.json(item) if item is not None else self.error(404)

    def _select_by_record(self, matches, regions, lower, upper, order_by, descending) -> list[int]:
        pairs = []
        for index in self.store.candidates(regions, lower, upper):
            record = self.store.get(index)
            if record is not None and matches(record):
                pairs.append((record, index))
        key = _ORDER_KEYS[order_by]
        if key is not None:
            pairs.sort(key=lambda pair: (key(pair[0]), pair[1]))
        selection = [index for _, index in pairs]
        return selection[::-1] if descending else selection

    def _page(self, request: Request, selection: list[int], filter_key: object) -> Response:
        size = request.int_param("size", 50, minimum=1, maximum=MAX_PAGE_SIZE)
        page = request.int_param("page", 1, minimum=1)
        full = (request.param("full") or "").lower() in _TRUE
        total = len(selection)
        total_pages = -(-total // size)
        if page > max(total_pages, 1):
            return self.error(404)
        headers = [
            ("X-Page", str(page)),
            ("X-Total-Count", str(total)),
            ("X-Total-Pages", str(max(total_pages, 1))),  # Pagerfanta counts at least one page
            ("X-Per-Page", str(size)),
        ]
        key = (self.store.version, filter_key, page, size, full)

        def make() -> bytes:
            chunk = selection[(page - 1) * size : page * size]
            return ("[" + ",".join(self._timesheet(self.store.get(index), full=full) for index in chunk) + "]").encode()

        return Response(200, self.page_cache.get_or_make(key, make), headers)

    def _timesheet(self, record: EntryRecord, *, full: bool) -> str:
        """One timesheet as JSON text, assembled from pre-serialized master data (pages hold up to 500)."""
        zone = self.users[record.user].zone_hours
        rate = round(record.duration / 3600 * _HOURLY_RATE, 2) if record.billable else 0.0
        return _TIMESHEET % (
            self._activity_json[record.activity] if full else record.activity,
            self._project_json[record.project] if full else record.project,
            self._user_text[record.user] if full else record.user + 1,
            '["dev"]' if "dev" in record.tags else "[]",
            record.id,
            local_offset_time(record.begin, zone),
            local_offset_time(record.begin + record.duration, zone),
            record.duration,
            json.dumps(record.text),
            float(rate),
            float(round(record.duration / 3600 * _INTERNAL_RATE, 2)),
            "true" if record.begin < _INVOICED_UNTIL else "false",
            "true" if record.billable else "false",
        )

    def _user(self, user: SandboxUser) -> dict:
        initials = "".join(part[0] for part in user.full_name.split()[:2]).upper()
        return {
            "id": user.index + 1,
            "username": user.username,
            "alias": user.full_name,
            "title": None,
            "email": user.email,
            "accountNumber": f"{user.index + 1:04d}",
            "enabled": True,
            "initials": initials,
            "color": None,
            "color-safe": "#3c8dbc",
            "avatar": None,
            "apiToken": True,
            "systemAccount": False,
            "timezone": "Europe/London" if user.zone_hours == 0 else "Europe/Vienna",
            "language": "en",
            "locale": "en",
        }


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _ids(request: Request, single: str, plural: str) -> frozenset[int]:
    return frozenset(int(value) for value in [*request.params(plural), *request.query.get(single, [])] if value)


def _local(text: str | None, user: SandboxUser) -> int | None:
    return parse_instant(text, user.zone_hours) if text else None


def _visible(request: Request, items) -> list[dict]:
    visible = request.param("visible", "1") or "1"
    if visible == "3":
        return list(items)
    return [item for item in items if item["visible"] == (visible != "2")]
