"""Jira connector against a response recorded from Jira Cloud and pages derived from Atlassian's published schema.

See jira/SOURCES.md for where each file comes from.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from siisurit.downloads.service import tracker_download
from siisurit.errors import PermanentError
from siisurit.models import ApiKind, Task
from tests.contracts.replay import ReplayServer, recording
from tests.factories import make_tracker

pytestmark = pytest.mark.django_db

FOLDER = Path(__file__).parent / "jira"


@pytest.fixture
def server():
    with ReplayServer(origins=["https://your-domain.atlassian.net", "https://example.atlassian.net"]) as replay:
        yield replay


def jira_tracker(server: ReplayServer, project_key: str, api_path: str):
    return make_tracker(
        api_kind=ApiKind.JIRA,
        api_location=f"{server.base_url}/projects/{project_key}",
        api_base_url=f"{server.base_url}{api_path}",
        api_username="contract@example.com",
        api_token="jira-contract-token",
    )


def test_cloud_search_jql_follows_next_page_token_to_the_last_page(server):
    server.route("/rest/api/3/search/jql", recording(FOLDER, "schema-search-jql-page-1"))
    server.route(
        "/rest/api/3/search/jql", recording(FOLDER, "schema-search-jql-page-2"), query={"nextPageToken": "CAEaAggD"}
    )
    tracker = jira_tracker(server, "SHOP", "/rest/api/3")

    summary = tracker_download(tracker_id=str(tracker.id))

    assert (summary["pages"], summary["requests"], summary["created"]) == (2, 2, 3)
    assert server.unanswered == []
    first, second = server.requests
    assert first.query["jql"] == 'project = "SHOP" ORDER BY created ASC'
    assert set(first.query["fields"].split(",")) >= {"summary", "status", "assignee", "created", "updated"}
    assert "nextPageToken" not in first.query and second.query["nextPageToken"] == "CAEaAggD"
    tasks = {task.code: task for task in Task.objects.filter(tracker=tracker).prefetch_related("assignees")}
    assert sorted(tasks) == ["SHOP-1", "SHOP-2", "SHOP-3"]

    done = tasks["SHOP-1"]
    assert (done.external_id, done.title, done.state, done.is_closed) == (
        "10068",
        "Checkout rejects postcodes with a space",
        "Done",
        True,
    )
    sydney = timezone(timedelta(hours=11))
    assert done.created_at == datetime(2025, 3, 3, 9, 15, 27, 331000, tzinfo=sydney)
    assert done.updated_at == datetime(2025, 3, 5, 16, 40, 2, 118000, tzinfo=sydney)
    assert done.closed_at == datetime(2025, 3, 5, 5, 40, 2, 104000, tzinfo=UTC)
    assert done.estimate_hours == Decimal("2.00")
    assert done.url == f"{server.base_url}/browse/SHOP-1"
    # Jira Cloud hides e-mail addresses by default: then the account id is the name to map.
    assert list(done.assignees.values_list("external_username", flat=True)) == ["5b10a2844c20165700ede21g"]

    in_progress = tasks["SHOP-2"]
    assert (in_progress.state, in_progress.is_closed, in_progress.closed_at) == ("In Progress", False, None)
    assert in_progress.estimate_hours is None
    assert list(in_progress.assignees.values_list("external_username", flat=True)) == ["bob@example.com"]

    to_do = tasks["SHOP-3"]
    assert to_do.created_at == datetime(2025, 3, 7, 4, 59, 59, 999000, tzinfo=UTC)
    assert (to_do.state, to_do.estimate_hours, to_do.assignees.count()) == ("To Do", Decimal("0.50"), 0)


def test_recorded_issue_is_stored_before_page_2_fails_and_the_message_names_that_page(server):
    # The recording says total 10 but carries one issue: the connector asks for startAt=1, which was not recorded.
    server.route("/rest/api/2/search", recording(FOLDER, "go-jira-2016-issues-page-1"))
    server.route("/rest/api/2/search", recording(FOLDER, "schema-not-found"), query={"startAt": "1"})
    tracker = jira_tracker(server, "AR", "/rest/api/2")

    with pytest.raises(PermanentError) as error_info:
        tracker_download(tracker_id=str(tracker.id))

    message = str(error_info.value)
    assert "HTTP 404" in message and "/rest/api/2/search (page 2)" in message
    assert "The requested resource could not be found." in message
    assert "api_location" not in message and "jira-contract-token" not in message
    assert [request.query["startAt"] for request in server.requests] == ["0", "1"]

    item = recording(FOLDER, "go-jira-2016-issues-page-1").json()["issues"][0]
    task = Task.objects.get(tracker=tracker)  # the complete first page was kept
    assert (task.external_id, task.code, task.title) == (item["id"], "AR-86", "")  # the recording has no summary
    assert (task.state, task.is_closed) == ("Ready", False)  # resolved "Done", but its status is in category "new"
    pacific = timezone(timedelta(hours=-8))
    assert task.created_at == datetime(2015, 12, 2, 7, 39, 15, tzinfo=pacific)
    assert task.updated_at == datetime(2016, 2, 1, 8, 17, 4, tzinfo=pacific)
    assert task.closed_at == datetime(2015, 12, 7, 14, 19, 13, tzinfo=pacific)
    assert task.estimate_hours is None
    assert list(task.assignees.values_list("external_username", flat=True)) == ["mister.morris@uservoice.com"]


def test_a_first_page_not_found_still_points_at_the_configuration(server):
    server.route("/rest/api/2/search", recording(FOLDER, "schema-not-found"))
    tracker = jira_tracker(server, "AR", "/rest/api/2")

    with pytest.raises(PermanentError, match=r"HTTP 404 .*/rest/api/2/search: .*\(check api_location"):
        tracker_download(tracker_id=str(tracker.id))
