"""Master data of the Kimai imitation: customers, projects, activities (ids as Kimai shows them)."""

from __future__ import annotations

from sandbox.entries import ProjectPlan

SEEDED_CUSTOMER_ID = 1
SEEDED_PROJECT_ID = 1


def _customer(id_: int, name: str, country: str, currency: str, visible: bool = True) -> dict:
    color = ("#3b82f6", "#22c55e", "#a855f7")[id_ % 3]
    return {
        "id": id_,
        "name": name,
        "number": f"C-{id_:03d}",
        "comment": None,
        "visible": visible,
        "billable": True,
        "currency": currency,
        "country": country,
        "language": "en" if country == "GB" else "de",
        "company": name,
        "homepage": None,
        "phone": None,
        "mobile": None,
        "fax": None,
        "timezone": "Europe/Vienna",
        "color": color,
        "color-safe": color,
        "metaFields": [],
        "teams": [],
    }


def _project(id_: int, name: str, customer: dict, visible: bool = True) -> dict:
    return {
        "id": id_,
        "name": name,
        "customer": customer["id"],
        "parentTitle": customer["name"],
        "number": f"P-{100 + id_}",
        "orderNumber": None,
        "orderDate": None,
        "start": None,
        "end": None,
        "visible": visible,
        "billable": True,
        "globalActivities": True,
        "comment": None,
        "metaFields": [],
        "teams": [],
        "color": customer["color"],
        "color-safe": customer["color-safe"],
    }


def _activity(id_: int, name: str, project: dict | None = None, visible: bool = True) -> dict:
    return {
        "id": id_,
        "name": name,
        "project": project["id"] if project else None,
        "parentTitle": project["name"] if project else None,
        "number": None,
        "visible": visible,
        "billable": True,
        "comment": None,
        "metaFields": [],
        "teams": [],
        "color": None,
        "color-safe": "#d2d6de",
    }


CUSTOMERS = (
    _customer(1, "Acme Corp", "AT", "EUR"),
    _customer(2, "Globex Ltd", "GB", "GBP"),
    _customer(3, "Initech", "DE", "EUR", visible=False),
)
_ACME, _GLOBEX, _INITECH = CUSTOMERS
PROJECTS = (
    _project(1, "Webshop", _ACME),
    _project(2, "Intranet", _ACME),
    _project(3, "Support", _GLOBEX),
    _project(4, "Legacy Site", _INITECH, visible=False),
)
ACTIVITIES = (
    _activity(1, "Development"),
    _activity(2, "Design"),
    _activity(3, "Meetings"),
    _activity(4, "Code review", PROJECTS[0]),
    _activity(5, "Support hotline", PROJECTS[2]),
    _activity(6, "Maintenance", visible=False),
)
#: Keys of the collections (`/api/projects`, `/api/activities`, `/api/customers`) that Kimai leaves out where it
#: nests these objects in a timesheet (`full=true`: `ProjectExpanded`, `Activity`, `Customer` in its API tests).
COLLECTION_ONLY_KEYS = frozenset({"parentTitle", "teams"})


def embedded(item: dict) -> dict:
    """The object as Kimai nests it in a timesheet of `full=true`."""
    return {key: value for key, value in item.items() if key not in COLLECTION_ONLY_KEYS}


CUSTOMER_BY_ID = {customer["id"]: customer for customer in CUSTOMERS}
PROJECT_BY_ID = {project["id"]: project for project in PROJECTS}
ACTIVITY_BY_ID = {activity["id"]: activity for activity in ACTIVITIES}

SEEDED_PLAN = ProjectPlan(SEEDED_PROJECT_ID, (1, 1, 1, 1, 2, 3, 4))
OTHER_PLANS = (ProjectPlan(2, (1, 2, 3)), ProjectPlan(3, (5, 5, 3, 1)), ProjectPlan(4, (1, 6)))
