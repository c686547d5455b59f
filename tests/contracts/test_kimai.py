"""Kimai contract: the connector and the download service on Kimai's own response shapes (see kimai/SOURCES.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from siisurit.connectors import kimai
from siisurit.downloads.service import tracker_download
from siisurit.errors import TransientError
from siisurit.models import WorkEntry
from tests.contracts.replay import ReplayServer, recording
from tests.contracts.rows import replayed_tracker
from tests.factories import (
    make_organization,
    make_organization_profile,
    make_user,
    make_user_mapping,
    make_user_mapping_entry,
)

FOLDER = Path(__file__).parent / "kimai"
ORIGIN = "https://kimai.example.com"
TOKEN = "kimai-contract-token"
PAGE_SIZE = 2  # the X-Per-Page of the recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def replay(monkeypatch):
    monkeypatch.setattr(kimai, "PAGE_SIZE", PAGE_SIZE)
    with ReplayServer(origins=[ORIGIN]) as server:
        yield server


def route_timesheets(server: ReplayServer, scope: dict[str, str], *, total_pages: str | None = None) -> None:
    """Pages 1 and 2 as recorded for `scope` (the filter of the location); page 3 is Kimai's 404 past the end.

    `total_pages` replaces the recorded X-Total-Pages, as if timesheets were deleted after the pages were served.
    """
    wanted = {**scope, "user": "all", "full": "true", "size": str(PAGE_SIZE)}
    for page, name in ((1, "timesheets-full-page-1"), (2, "timesheets-full-page-2"), (3, "timesheets-page-3")):
        answer = recording(FOLDER, name)
        if total_pages is not None and answer.status == 200:
            headers = tuple((key, total_pages if key == "X-Total-Pages" else value) for key, value in answer.headers)
            answer = replace(answer, headers=headers)
        server.route("/api/timesheets", answer, query={**wanted, "page": str(page)})


def kimai_tracker(server: ReplayServer, location: str, **fields):
    return replayed_tracker(server, "kimai", location, api_token=TOKEN, **fields)


def recorded_timesheets() -> list[dict]:
    pages = ("timesheets-full-page-1", "timesheets-full-page-2")
    return [timesheet for name in pages for timesheet in recording(FOLDER, name).json()]


def test_timesheets_are_stored_value_by_value_as_recorded(replay):
    route_timesheets(replay, {"project": "25"})
    tracker = kimai_tracker(replay, f"{ORIGIN}/de/admin/project/25/details")

    summary = tracker_download(tracker_id=str(tracker.id))

    finished = [timesheet for timesheet in recorded_timesheets() if timesheet["end"] is not None]
    assert summary["created"] == len(finished) == 3
    stored = {entry.external_id: entry for entry in WorkEntry.objects.filter(tracker=tracker)}
    assert sorted(stored) == sorted(str(timesheet["id"]) for timesheet in finished)
    for timesheet in finished:
        entry = stored[str(timesheet["id"])]
        assert entry.started_at == datetime.fromisoformat(timesheet["begin"])
        assert entry.duration_seconds == timesheet["duration"]
        assert entry.text == (timesheet["description"] or "")
        assert entry.external_username == timesheet["user"]["username"]
        project = timesheet["project"]
        trail = f"{project['customer']['name']} / {project['name']} / {timesheet['activity']['name']}"
        assert entry.breadcrumb_trail == trail


def test_local_offsets_become_utc_and_breaks_stay_out_of_the_duration(replay):
    route_timesheets(replay, {"project": "25"})
    tracker = kimai_tracker(replay, f"{ORIGIN}/de/admin/project/25/details")
    tracker_download(tracker_id=str(tracker.id))
    entries = {entry.external_id: entry for entry in WorkEntry.objects.filter(tracker=tracker)}

    summer, winter, new_year = entries["101"], entries["102"], entries["103"]
    assert summer.started_at == datetime(2024, 7, 1, 7, 0, tzinfo=UTC)  # 09:00+0200
    assert winter.started_at == datetime(2024, 12, 2, 15, 15, tzinfo=UTC)  # 16:15+0100
    assert winter.duration_seconds == 2700  # 60 minutes from begin to end, less a 15-minute break
    assert winter.text == "Abstimmung mit Kunde \N{EN DASH} Änderungen an SW-4714"
    assert new_year.started_at == datetime(2024, 12, 31, 22, 30, tzinfo=UTC)  # 23:30+0100 on New Year's Eve
    assert new_year.text == ""  # description null


def test_a_running_timesheet_is_not_stored_until_it_ends(replay):
    route_timesheets(replay, {"project": "25"})
    tracker = kimai_tracker(replay, f"{ORIGIN}/de/admin/project/25/details")
    (running,) = [timesheet for timesheet in recorded_timesheets() if timesheet["end"] is None]
    assert running["duration"] == 0  # Kimai sends 0, not null, while the clock runs

    tracker_download(tracker_id=str(tracker.id))

    assert not WorkEntry.objects.filter(tracker=tracker, external_id=str(running["id"])).exists()


def test_pages_are_read_to_x_total_pages_without_asking_past_the_end(replay):
    route_timesheets(replay, {"project": "25"})
    tracker = kimai_tracker(replay, f"{ORIGIN}/de/admin/project/25/details")

    summary = tracker_download(tracker_id=str(tracker.id))

    assert [request.query["page"] for request in replay.requests] == ["1", "2"]
    assert replay.unanswered == []  # page 3 would be Kimai's 404 {"code":404,"message":"Not Found"}
    assert summary["full"]
    first = replay.requests[0]
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert (first.query["orderBy"], first.query["order"]) == ("id", "ASC")


def test_an_empty_listing_counts_one_page_and_ends_there(replay):
    empty = recording(FOLDER, "timesheets-empty")
    assert (empty.header("X-Total-Count"), empty.header("X-Total-Pages")) == ("0", "1")
    replay.route("/api/timesheets", empty, query={"project": "26", "page": "1"})
    tracker = kimai_tracker(replay, f"{ORIGIN}/de/admin/project/26/details")

    summary = tracker_download(tracker_id=str(tracker.id))

    assert (summary["created"], len(replay.requests)) == (0, 1)
    assert not WorkEntry.objects.filter(tracker=tracker).exists()


def test_a_page_gone_past_the_end_after_a_deletion_is_a_transient_error(replay):
    """Pages 1 and 2 counted 3 pages; timesheets deleted meanwhile make page 3 Kimai's 404 past the end."""
    route_timesheets(replay, {"project": "25"}, total_pages="3")
    tracker = kimai_tracker(replay, f"{ORIGIN}/de/admin/project/25/details")

    with pytest.raises(TransientError, match=r"page 3 of the timesheets is gone \(HTTP 404\) after 2 were read"):
        tracker_download(tracker_id=str(tracker.id))

    assert [request.query["page"] for request in replay.requests] == ["1", "2", "3"]


def test_customer_and_activity_pages_filter_the_timesheets_by_their_id(replay):
    route_timesheets(replay, {"customer": "3"})
    route_timesheets(replay, {"activity": "11"})
    by_customer = kimai_tracker(replay, f"{ORIGIN}/de/admin/customer/3/details")
    tracker_download(tracker_id=str(by_customer.id))
    by_activity = kimai_tracker(replay, f"{ORIGIN}/en/admin/activity/11/details")
    tracker_download(tracker_id=str(by_activity.id))

    assert replay.unanswered == []
    assert WorkEntry.objects.filter(tracker=by_customer).count() == 3
    assert WorkEntry.objects.filter(tracker=by_activity).count() == 3


def test_users_are_mapped_by_the_username_of_the_full_user_object(replay):
    route_timesheets(replay, {"project": "25"})
    organization = make_organization()
    tester = make_user("tester")
    make_organization_profile(organization, tester, is_default=True)
    max_user = make_user("max")
    make_organization_profile(organization, max_user)
    mapping = make_user_mapping(organization, "kimai.example.com")
    make_user_mapping_entry(mapping, "mmuster", max_user)
    location = f"{ORIGIN}/de/admin/project/25/details"
    tracker = kimai_tracker(replay, location, organization=organization, user_mapping=mapping)

    tracker_download(tracker_id=str(tracker.id))

    users = dict(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", "user__username"))
    assert users == {"101": "tester", "102": "max", "103": "tester"}


def test_an_old_kimai_without_full_objects_still_gives_entries_with_colon_offsets():
    """Kimai before 1.0 (2019) ignores `full`, nests no objects and writes offsets with a colon."""
    with ReplayServer(origins=[ORIGIN]) as server:
        server.route("/api/timesheets", recording(FOLDER, "timesheets-plain-2019"), query={"project": "1"})
        tracker = kimai_tracker(server, f"{ORIGIN}/en/admin/project/1/details")

        tracker_download(tracker_id=str(tracker.id))

        assert len(server.requests) == 1  # a short page without paging headers ends the listing
    entries = {entry.external_id: entry for entry in WorkEntry.objects.filter(tracker=tracker)}
    assert sorted(entries) == ["1793", "1794"]
    assert entries["1794"].started_at == datetime(2019, 3, 26, 10, 0, tzinfo=UTC)  # 11:00+01:00
    assert entries["1794"].duration_seconds == 7200
    assert entries["1794"].external_username == "6"  # only the user's id is known
    assert entries["1794"].breadcrumb_trail == ""
