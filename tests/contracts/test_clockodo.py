"""Clockodo contract: the connector and the download service on recorded Clockodo entries (see clockodo/SOURCES.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from siisurit.connectors.clockodo import ClockodoConnector
from siisurit.downloads.service import tracker_download
from siisurit.models import WorkEntry
from tests.contracts.replay import ReplayServer, recording
from tests.contracts.rows import replayed_tracker
from tests.factories import make_organization_profile, make_user

FOLDER = Path(__file__).parent / "clockodo"
ORIGIN = "https://my.clockodo.com"
PROJECT_ID = 2020072
API_USER = "tal@example.com"
API_KEY = "clockodo-contract-key"
MASTER_DATA = {"v3/customers": "customers", "v4/projects": "projects", "v4/services": "services", "v3/users": "users"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def replay(monkeypatch):
    # One time window for the whole history, so that the recorded paging is the paging of that window.
    monkeypatch.setattr(ClockodoConnector, "window_months", 12 * 10)
    with ReplayServer(origins=[ORIGIN]) as server:
        for path, name in MASTER_DATA.items():
            server.route(f"/api/{path}", recording(FOLDER, name), query={"page": "1"})
        for page in (1, 2):
            query = {"filter[projects_id]": str(PROJECT_ID), "page": str(page)}
            server.route("/api/v2/entries", recording(FOLDER, f"entries-page-{page}"), query=query)
        yield server


@pytest.fixture
def tracker(replay):
    return replayed_tracker(
        replay,
        "clockodo",
        f"{ORIGIN}/en/projectreports/report/?id={PROJECT_ID}",
        api_username=API_USER,
        api_token=API_KEY,
    )


def recorded_entries() -> list[dict]:
    return [entry for page in (1, 2) for entry in recording(FOLDER, f"entries-page-{page}").json()["entries"]]


def recorded_names(name: str) -> dict[int, dict]:
    return {item["id"]: item for item in recording(FOLDER, name).json()["data"]}


def stored(tracker) -> dict[str, WorkEntry]:
    return {entry.external_id: entry for entry in WorkEntry.objects.filter(tracker=tracker)}


def test_finished_time_entries_are_stored_value_by_value_as_recorded(replay, tracker):
    summary = tracker_download(tracker_id=str(tracker.id))

    finished = [entry for entry in recorded_entries() if entry["type"] == 1 and entry["time_until"] is not None]
    assert summary["created"] == len(finished) == 2
    entries = stored(tracker)
    assert sorted(entries) == sorted(str(entry["id"]) for entry in finished)
    customers, projects, services = (recorded_names(name) for name in ("customers", "projects", "services"))
    users = recorded_names("users")
    for recorded in finished:
        entry = entries[str(recorded["id"])]
        assert entry.started_at == datetime.fromisoformat(recorded["time_since"])
        assert entry.updated_at == datetime.fromisoformat(recorded["time_last_change"])
        assert entry.duration_seconds == recorded["duration"] + recorded.get("offset", 0)
        assert entry.text == (recorded["text"] or "")
        assert entry.external_username == users[recorded["users_id"]]["email"]
        names = (
            customers[recorded["customers_id"]]["name"],
            projects[recorded["projects_id"]]["name"],
            services[recorded["services_id"]]["name"],
        )
        assert entry.breadcrumb_trail == " / ".join(names)


def test_utc_times_offsets_and_a_null_text_are_kept(replay, tracker):
    tracker_download(tracker_id=str(tracker.id))
    entries = stored(tracker)

    clocked = entries["85722133"]
    assert clocked.started_at == datetime(2022, 12, 30, 7, 21, 4, tzinfo=UTC)
    assert clocked.duration_seconds == 5070  # 07:21:04 to 08:45:34
    assert clocked.text == ""  # "text": null, "texts_id": null
    assert clocked.breadcrumb_trail == "Müller & Söhne GmbH / Relaunch 2023 / Development"
    manual = entries["85990001"]
    assert manual.duration_seconds == 5400 + 1800  # duration plus offset, not time_until - time_since
    assert manual.external_username == "erika@example.com"


def test_running_entries_and_lump_sums_are_not_stored(replay, tracker):
    tracker_download(tracker_id=str(tracker.id))

    kept = set(stored(tracker))
    running = [entry for entry in recorded_entries() if entry["time_until"] is None]
    lump_sums = [entry for entry in recorded_entries() if entry["type"] in (2, 3)]
    assert [entry["duration"] for entry in running] == [None]
    assert len(lump_sums) == 2
    assert kept.isdisjoint(str(entry["id"]) for entry in running + lump_sums)


def test_every_page_is_read_and_each_request_identifies_the_application(replay, tracker):
    tracker_download(tracker_id=str(tracker.id))

    entry_requests = [request for request in replay.requests if request.path == "/api/v2/entries"]
    assert [request.query["page"] for request in entry_requests] == ["1", "2"]
    assert replay.unanswered == []
    window = entry_requests[0].query
    for moment in (window["time_since"], window["time_until"]):
        assert datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ")  # ISO UTC without milliseconds
    for request in replay.requests:
        assert request.headers["x-clockodoapiuser"] == API_USER
        assert request.headers["x-clockodoapikey"] == API_KEY
        assert request.headers["x-clockodoenableisoutcdatetimes"] == "1"
        assert request.headers["x-clockodo-external-application"] == f"Siisurit;{API_USER}"


def test_entries_of_a_user_known_by_email_belong_to_that_user(replay, tracker):
    organization = tracker.project.organization
    erika = make_user("erika", email="erika@example.com")
    make_organization_profile(organization, erika, is_default=True)

    tracker_download(tracker_id=str(tracker.id))

    users = dict(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", "user__username"))
    assert users["85990001"] == "erika"
