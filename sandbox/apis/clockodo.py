"""Clockodo imitation: ``/api/v2/entries`` (time window, filters, paging object) and v3/v4 master data."""

from __future__ import annotations

import json
import zlib

from sandbox.apis.base import BaseApi, basic_credentials
from sandbox.apis.clockodo_data import (
    CUSTOMER_BY_ID,
    CUSTOMERS,
    PROJECT_BY_ID,
    PROJECTS,
    SEEDED_PROJECT_ID,
    SERVICE_BY_ID,
    SERVICES,
)
from sandbox.entries import EntryRecord
from sandbox.messages import Request, Response
from sandbox.people import SandboxUser
from sandbox.store import LazyStore
from sandbox.timeline import iso_z, legacy_time, parse_instant

MAX_ITEMS_PER_PAGE = 1000
EXTERNAL_APPLICATION_HEADER = "X-Clockodo-External-Application"
_FIRST_USER_ID = 55
_RETIRED = r"/api/(?:v2/)?(?:customers|projects|services|users)(?:/\d+)?|/api/entries(?:/\d+)?"


class ClockodoApi(BaseApi):
    kind = "clockodo"
    routes = (
        (r"/api/v2/entries", "list_entries", True),
        (r"/api/v2/entries/(\d+)", "get_entry", True),
        (r"/api/v3/customers", "list_customers", True),
        (r"/api/v3/customers/(\d+)", "get_customer", True),
        (r"/api/v4/projects", "list_projects", True),
        (r"/api/v4/projects/(\d+)", "get_project", True),
        (r"/api/v4/services", "list_services", True),
        (r"/api/v4/services/(\d+)", "get_service", True),
        (r"/api/v3/users", "list_users", True),
        (r"/api/v3/users/(\d+)", "get_user", True),
        (_RETIRED, "retired", False),
    )
    pages = ((r"(?:/[a-z]{2})?/projectreports/report/?", "Clockodo project report"),)

    def __init__(
        self,
        *,
        store: LazyStore,
        seeded_region: tuple[int, int],
        other_region: tuple[int, int],
        page_size: int,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.seeded_region = seeded_region
        self.other_region = other_region
        self.page_size = page_size
        self._users = [self._user(user) for user in self.users]

    def handle(self, request: Request) -> Response:
        application = request.header(EXTERNAL_APPLICATION_HEADER)
        if request.path.startswith("/api/") and not application:
            return self.error(400, f"Missing header {EXTERNAL_APPLICATION_HEADER}: '<application>;<contact e-mail>'")
        if application and len(application) > 50:
            return self.error(400, f"Header {EXTERNAL_APPLICATION_HEADER} is longer than 50 characters")
        return super().handle(request)

    def authenticate(self, request: Request) -> SandboxUser | None:
        credentials = basic_credentials(request)
        if credentials is None:
            credentials = (request.header("X-ClockodoApiUser") or "", request.header("X-ClockodoApiKey") or "")
        email, key = credentials
        return self.owner if email.lower() == self.username.lower() and key == self.token else None

    def error(self, status: int, message: str | None = None) -> Response:
        messages = {
            400: "Bad request",
            401: "Authentication failed",
            403: "Access denied",
            404: "Not found",
            410: "This API endpoint has been retired.",
            429: "Too many requests",
            503: "Service unavailable",
        }
        return Response.json({"error": {"message": message or messages.get(status, "Error")}}, status)

    # Endpoints

    def retired(self, request: Request) -> Response:
        return self.error(410)

    def list_entries(self, request: Request) -> Response:
        iso = request.header("X-ClockodoEnableIsoUtcDateTimes") == "1"
        since_text, until_text = request.param("time_since"), request.param("time_until")
        if not since_text or not until_text:
            return self.error(400, "Parameters time_since and time_until are required")
        since, until = parse_instant(since_text), parse_instant(until_text)
        if until < since:
            return self.error(400, "time_until must not be before time_since")
        projects = _ids(request, "projects_id")
        customers = _ids(request, "customers_id")
        users = frozenset(user_id - _FIRST_USER_ID for user_id in _ids(request, "users_id"))
        services = _ids(request, "services_id")
        billable = request.param("filter[billable]")
        text = (request.param("filter[text]") or "").lower()
        if customers:
            by_customer = {project["id"] for project in PROJECTS if project["customers_id"] in customers}
            projects = (projects & by_customer if projects else frozenset(by_customer)) or frozenset({-1})
        regions = []
        if not projects or SEEDED_PROJECT_ID in projects:
            regions.append(self.seeded_region)
        if not projects or projects - {SEEDED_PROJECT_ID}:
            regions.append(self.other_region)
        records = bool(services or billable not in (None, "", "2") or text)

        def matches(item) -> bool:
            if (projects and item.project not in projects) or (users and item.user not in users):
                return False
            if not since <= item.begin < until:  # half-open, so adjacent windows never count an entry twice
                return False
            if not records:
                return True
            if services and item.activity not in services:
                return False
            if billable in ("0", "1") and item.billable != (billable == "1"):
                return False
            return not text or text in item.text.lower()

        key = ("clockodo", since, until, projects, users, services, billable, text)
        if records:
            selection = [
                index
                for index in self.store.candidates(regions, since, until)
                if (record := self.store.get(index)) is not None and matches(record)
            ]
            selection.sort(key=lambda index: (self.store.get(index).begin, index))
        else:
            selection = self.store.select(
                key,
                matches,
                regions=regions,
                lower=since,
                upper=until,
                sort_key=lambda item: item.begin,
                presorted=len(regions) == 1,
            )
        per_page = request.int_param("items_per_page", self.page_size, minimum=1, maximum=MAX_ITEMS_PER_PAGE)
        page = request.int_param("page", 1, minimum=1)
        count_pages = max(1, -(-len(selection) // per_page))
        filters = {
            name[len("filter[") : -1]: values[0] for name, values in request.query.items() if name.startswith("filter[")
        }

        def make() -> bytes:
            chunk = selection[(page - 1) * per_page : page * per_page]
            body = {
                "paging": {
                    "items_per_page": per_page,
                    "current_page": page,
                    "count_pages": count_pages,
                    "count_items": len(selection),
                },
                "filter": filters or None,
                "entries": [self._entry(self.store.get(index), iso) for index in chunk],
            }
            return json.dumps(body, separators=(",", ":")).encode()

        return Response(200, self.page_cache.get_or_make((self.store.version, key, per_page, page, iso), make))

    def get_entry(self, request: Request, entry_id: str) -> Response:
        index = self.store.index_of(int(entry_id))
        record = self.store.get(index) if index is not None else None
        if record is None:
            return self.error(404)
        return Response.json({"entry": self._entry(record, request.header("X-ClockodoEnableIsoUtcDateTimes") == "1")})

    def list_customers(self, request: Request) -> Response:
        return _listing(request, CUSTOMERS)

    def get_customer(self, request: Request, customer_id: str) -> Response:
        return self._single(CUSTOMER_BY_ID.get(int(customer_id)))

    def list_projects(self, request: Request) -> Response:
        customers = _ids(request, "customers_id")
        return _listing(
            request, [project for project in PROJECTS if not customers or project["customers_id"] in customers]
        )

    def get_project(self, request: Request, project_id: str) -> Response:
        return self._single(PROJECT_BY_ID.get(int(project_id)))

    def list_services(self, request: Request) -> Response:
        return _listing(request, SERVICES)

    def get_service(self, request: Request, service_id: str) -> Response:
        return self._single(SERVICE_BY_ID.get(int(service_id)))

    def list_users(self, request: Request) -> Response:
        return _listing(request, self._users)

    def get_user(self, request: Request, user_id: str) -> Response:
        index = int(user_id) - _FIRST_USER_ID
        return self._single(self._users[index] if 0 <= index < len(self._users) else None)

    # Helpers

    def _single(self, item: dict | None) -> Response:
        return Response.json({"data": item}) if item is not None else self.error(404)

    def _user(self, user: SandboxUser) -> dict:
        return {
            "id": _FIRST_USER_ID + user.index,
            "name": user.full_name,
            "number": f"E{user.index + 1:03d}",
            "email": user.email,
            "role": "owner" if user.index == 0 else "worker",
            "active": True,
            "timezone": "Europe/London" if user.zone_hours == 0 else "Europe/Berlin",
            "language": "en",
            "teams_id": None,
        }

    def _entry(self, record: EntryRecord, iso: bool) -> dict:
        timestamp = iso_z if iso else legacy_time
        return {
            "id": record.id,
            "type": 1,
            "customers_id": PROJECT_BY_ID[record.project]["customers_id"],
            "projects_id": record.project,
            "services_id": record.activity,
            "users_id": _FIRST_USER_ID + record.user,
            "billable": 1 if record.billable else 0,
            "texts_id": zlib.crc32(record.text.encode()) % 1_000_000 if record.text else None,
            "text": record.text or None,  # as recorded from Clockodo: null, not "", for an entry without text
            "time_since": timestamp(record.begin),
            "time_until": timestamp(record.begin + record.duration),
            "duration": record.duration,  # Clockodo adds "offset" only where duration != until - since
            "clocked": False,
            "clocked_offline": False,
            "time_clocked_since": None,
            "time_insert": timestamp(record.created),
            "time_last_change": timestamp(record.modified),
            "time_last_change_work_time": timestamp(record.modified),
            "hourly_rate": 95.0,
        }


def _ids(request: Request, name: str) -> frozenset[int]:
    values = request.params(f"filter[{name}]")
    return frozenset(int(part) for value in values for part in value.split(",") if part.strip())


def _listing(request: Request, items) -> Response:
    active = request.param("filter[active]")
    if active in ("true", "1", "false", "0"):
        items = [item for item in items if item.get("active", True) == (active in ("true", "1"))]
    items = list(items)
    paging = {"items_per_page": max(len(items), 1), "current_page": 1, "count_pages": 1, "count_items": len(items)}
    return Response.json({"data": items, "paging": paging})
