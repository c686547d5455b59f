"""Master data of the Clockodo imitation: customers, projects, services (ids as Clockodo shows them)."""

from __future__ import annotations

from sandbox.entries import ProjectPlan

SEEDED_CUSTOMER_ID = 10
SEEDED_PROJECT_ID = 123


def _customer(id_: int, name: str, active: bool = True) -> dict:
    return {
        "id": id_,
        "name": name,
        "number": f"K{id_}",
        "active": active,
        "billable_default": True,
        "note": None,
        "color": 0x3B82F6 + id_,
        "test_data": False,
    }


def _project(id_: int, name: str, customer: dict, active: bool = True) -> dict:
    return {
        "id": id_,
        "customers_id": customer["id"],
        "name": name,
        "number": f"P{id_}",
        "active": active,
        "billable_default": True,
        "note": None,
        "completed": not active,
        "completed_at": None if active else "2023-03-31T00:00:00Z",
        "count_subprojects": 0,
        "deadline": None,
        "start_date": "2023-01-02",
        "budget": {"monetary": False, "hard": False, "interval": None, "amount": None},
        "revenue_factor": None,
        "test_data": False,
    }


def _service(id_: int, name: str) -> dict:
    return {"id": id_, "name": name, "number": f"S{id_}", "active": True, "note": None}


CUSTOMERS = (_customer(10, "Acme Corp"), _customer(11, "Globex Ltd"), _customer(12, "Initech", active=False))
PROJECTS = (
    _project(123, "Webshop", CUSTOMERS[0]),
    _project(124, "Intranet", CUSTOMERS[0]),
    _project(125, "Support", CUSTOMERS[1]),
    _project(126, "Legacy Site", CUSTOMERS[2], active=False),
)
SERVICES = (_service(7, "Development"), _service(8, "Design"), _service(9, "Meetings"), _service(10, "Support"))
CUSTOMER_BY_ID = {customer["id"]: customer for customer in CUSTOMERS}
PROJECT_BY_ID = {project["id"]: project for project in PROJECTS}
SERVICE_BY_ID = {service["id"]: service for service in SERVICES}

SEEDED_PLAN = ProjectPlan(SEEDED_PROJECT_ID, (7, 7, 7, 8, 9))
OTHER_PLANS = (ProjectPlan(124, (7, 9)), ProjectPlan(125, (10, 10, 9)), ProjectPlan(126, (7,)))
