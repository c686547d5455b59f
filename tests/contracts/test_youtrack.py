"""YouTrack contract: the connector and the download service on recorded YouTrack issues (see youtrack/SOURCES.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from siisurit.connectors import youtrack
from siisurit.downloads.service import tracker_download
from siisurit.models import Task
from tests.contracts.replay import ReplayServer, recording
from tests.contracts.rows import replayed_tracker

FOLDER = Path(__file__).parent / "youtrack"
ORIGIN = "https://example.youtrack.cloud"
PROJECT_ENTITY_ID = "0-172"
PAGE_SIZE = 2  # so that the recorded pages are one full page and one short page
TOKEN = "perm:Y29udHJhY3Q=.c2lpc3VyaXQ=.youtrackContract"

pytestmark = pytest.mark.django_db


def serve(server: ReplayServer, *, time_tracking: str = "time-tracking-settings") -> None:
    server.route("/api/admin/projects", recording(FOLDER, "admin-projects"))
    server.route(f"/api/admin/projects/{PROJECT_ENTITY_ID}/timeTrackingSettings", recording(FOLDER, time_tracking))
    server.route("/api/issues", recording(FOLDER, "issues-page-1"), query={"$skip": "0"})
    server.route("/api/issues", recording(FOLDER, "issues-page-2"), query={"$skip": str(PAGE_SIZE)})


@pytest.fixture
def replay(monkeypatch):
    monkeypatch.setattr(youtrack, "PAGE_SIZE", PAGE_SIZE)
    with ReplayServer(origins=[ORIGIN]) as server:
        yield server


def youtrack_tracker(server: ReplayServer, **fields):
    return replayed_tracker(server, "youtrack", f"{ORIGIN}/projects/SW", api_token=TOKEN, **fields)


def recorded_issues() -> list[dict]:
    return [issue for name in ("issues-page-1", "issues-page-2") for issue in recording(FOLDER, name).json()]


def epoch_milliseconds(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def stored(tracker) -> dict[str, Task]:
    return {task.code: task for task in Task.objects.filter(tracker=tracker).prefetch_related("assignees")}


def assignee_names(task: Task) -> list[str]:
    return sorted(assignee.external_username for assignee in task.assignees.all())


def test_issues_are_stored_value_by_value_as_recorded(replay):
    serve(replay)
    tracker = youtrack_tracker(replay)

    summary = tracker_download(tracker_id=str(tracker.id))

    issues = recorded_issues()
    assert summary["created"] == len(issues) == 3
    tasks = stored(tracker)
    for issue in issues:
        task = tasks[issue["idReadable"]]
        assert task.external_id == issue["id"]
        assert task.title == issue["summary"]
        assert task.url == f"{ORIGIN}/issue/{issue['idReadable']}"
        assert task.created_at == epoch_milliseconds(issue["created"])
        assert task.updated_at == epoch_milliseconds(issue["updated"])
        assert task.closed_at == epoch_milliseconds(issue["resolved"])


def test_states_assignees_and_estimates_from_the_custom_fields(replay):
    serve(replay)
    tracker = youtrack_tracker(replay)
    tracker_download(tracker_id=str(tracker.id))
    tasks = stored(tracker)

    released, single, multi = tasks["SW-4712"], tasks["SW-4713"], tasks["SW-4714"]
    # The recorded issue: state without isResolved but a resolved time, no assignee, Estimation null.
    assert (released.state, released.is_closed) == ("Released", True)
    assert assignee_names(released) == []
    assert released.estimate_hours is None
    # A single user field and a PeriodValue of 750 minutes ("1d 4h 30m" in working days).
    assert (single.state, single.is_closed) == ("In Progress", False)
    assert assignee_names(single) == ["jdoe"]
    assert single.estimate_hours == Decimal("12.50")
    # A multi user field (the first user field) and 90 minutes.
    assert (multi.state, multi.is_closed) == ("Open", False)
    assert assignee_names(multi) == ["emusterfrau", "jdoe"]
    assert multi.estimate_hours == Decimal("1.50")
    assert multi.updated_at == datetime(2025, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)  # milliseconds kept


def test_configured_assignee_fields_are_read_by_their_names(replay):
    serve(replay)
    tracker = youtrack_tracker(replay, api_custom_assignee_fields="Reviewers, Assignee")

    tracker_download(tracker_id=str(tracker.id))

    tasks = stored(tracker)
    assert assignee_names(tasks["SW-4714"]) == ["emusterfrau", "jdoe", "rreviewer"]
    assert assignee_names(tasks["SW-4713"]) == ["jdoe"]


def test_without_time_tracking_there_is_no_estimate(replay):
    serve(replay, time_tracking="time-tracking-disabled")
    tracker = youtrack_tracker(replay)

    tracker_download(tracker_id=str(tracker.id))

    assert {task.estimate_hours for task in Task.objects.filter(tracker=tracker)} == {None}


def test_pages_are_read_until_a_short_page(replay):
    serve(replay)
    tracker = youtrack_tracker(replay)

    tracker_download(tracker_id=str(tracker.id))

    issue_requests = [request for request in replay.requests if request.path == "/api/issues"]
    assert [(request.query["$skip"], request.query["$top"]) for request in issue_requests] == [("0", "2"), ("2", "2")]
    assert issue_requests[0].query["query"] == "project: SW"
    assert "customFields(" in issue_requests[0].query["fields"]
    assert replay.unanswered == []
    assert {request.headers["authorization"] for request in replay.requests} == {f"Bearer {TOKEN}"}


def test_the_estimate_field_is_the_one_time_tracking_names(replay):
    serve(replay, time_tracking="time-tracking-original-estimate")
    tracker = youtrack_tracker(replay)

    tracker_download(tracker_id=str(tracker.id))

    estimates = dict(Task.objects.filter(tracker=tracker).values_list("code", "estimate_hours"))
    assert estimates == {"SW-4712": None, "SW-4713": None, "SW-4714": Decimal("8.00")}  # not "Estimation"


def test_a_second_download_reads_newest_first_and_stops_at_the_first_older_issue(replay):
    serve(replay)
    for number in (1, 2):
        query = {"query": "project: SW sort by: updated desc", "$skip": str((number - 1) * PAGE_SIZE)}
        replay.route("/api/issues", recording(FOLDER, f"issues-updated-desc-page-{number}"), query=query)
    tracker = youtrack_tracker(replay)
    first = tracker_download(tracker_id=str(tracker.id))
    replay.requests.clear()

    second = tracker_download(tracker_id=str(tracker.id))

    assert first["full"] and not second["full"]
    issue_requests = [request for request in replay.requests if request.path == "/api/issues"]
    assert [request.query["$skip"] for request in issue_requests] == ["0"]  # SW-4714 on page 1 is older already
    assert second["items"] == 1  # SW-4712, updated at the cursor
    assert Task.objects.filter(tracker=tracker).count() == 3
