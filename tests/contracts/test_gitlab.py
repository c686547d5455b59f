"""GitLab connector against merge requests recorded from gitlab.com and issues of GitLab's API documentation.

See gitlab/SOURCES.md for where each file comes from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from siisurit.downloads.service import tracker_download
from siisurit.models import ApiKind, Task
from tests.contracts.replay import ReplayServer, recording
from tests.factories import make_tracker

pytestmark = pytest.mark.django_db

FOLDER = Path(__file__).parent / "gitlab"
PROJECT = "/api/v4/projects/my-group%2Fmy-project"


@pytest.fixture
def server():
    with ReplayServer(origins=["https://gitlab.example.com"]) as replay:
        replay.route(f"{PROJECT}/issues", recording(FOLDER, "docs-project-issues"), query={"page": "1"})
        replay.route(f"{PROJECT}/issues", recording(FOLDER, "docs-issues"), query={"page": "2"})
        replay.route(f"{PROJECT}/merge_requests", recording(FOLDER, "go-gitlab-2019-merge-requests"))
        yield replay


@pytest.fixture
def tracker(server):
    return make_tracker(
        api_kind=ApiKind.GITLAB,
        api_location=f"{server.base_url}/my-group/my-project",
        api_base_url=f"{server.base_url}/api/v4",
        api_token="glpat-contractTestToken",
    )


def test_walks_issue_pages_by_x_next_page_then_merge_requests(server, tracker):
    summary = tracker_download(tracker_id=str(tracker.id))

    assert (summary["pages"], summary["requests"], summary["created"]) == (3, 3, 22)
    assert server.unanswered == []
    assert [(request.path.rsplit("/", 1)[1], request.query["page"]) for request in server.requests] == [
        ("issues", "1"),
        ("issues", "2"),
        ("merge_requests", "1"),
    ]
    first = server.requests[0]
    assert first.headers["private-token"] == "glpat-contractTestToken"
    assert {key: first.query[key] for key in ("order_by", "sort", "per_page")} == {
        "order_by": "created_at",
        "sort": "asc",
        "per_page": "100",
    }


def test_stores_issues_as_documented(server, tracker):
    tracker_download(tracker_id=str(tracker.id))

    closed = Task.objects.get(tracker=tracker, code="#1")
    assert (closed.external_id, closed.title, closed.state, closed.is_closed) == (
        "41",
        "Ut commodi ullam eos dolores perferendis nihil sunt.",
        "closed",
        True,
    )
    assert closed.url == "http://example.com/my-group/my-project/issues/1"
    assert closed.created_at == datetime(2016, 1, 4, 15, 31, 46, 176000, tzinfo=UTC)
    assert closed.closed_at == datetime(2016, 1, 5, 15, 31, 46, 176000, tzinfo=UTC)
    assert closed.estimate_hours is None  # time_estimate 0 means "not estimated"
    assert list(closed.assignees.values_list("external_username", flat=True)) == ["lennie"]

    opened = Task.objects.get(tracker=tracker, code="#6")
    assert (opened.external_id, opened.state, opened.is_closed, opened.closed_at) == ("76", "opened", False, None)
    assert opened.updated_at == datetime(2016, 1, 4, 15, 31, 51, 81000, tzinfo=UTC)
    assert list(opened.assignees.values_list("external_username", flat=True)) == ["root"]


def test_stores_recorded_merge_requests_value_by_value(server, tracker):
    tracker_download(tracker_id=str(tracker.id))

    items = recording(FOLDER, "go-gitlab-2019-merge-requests").json()
    tasks = {
        task.code: task
        for task in Task.objects.filter(tracker=tracker, code__startswith="!").prefetch_related("assignees")
    }
    assert sorted(tasks) == sorted(f"!{item['iid']}" for item in items)
    assert {item["state"] for item in items} == {"opened", "closed", "merged"}
    for item in items:
        task = tasks[f"!{item['iid']}"]
        assert (task.external_id, task.title, task.state, task.url) == (
            f"mr:{item['id']}",
            item["title"],
            item["state"],
            item["web_url"],
        )
        assert task.is_closed is (item["state"] in ("closed", "merged"))
        assert task.created_at == datetime.fromisoformat(item["created_at"])
        assert task.updated_at == datetime.fromisoformat(item["updated_at"])
        ended = item["closed_at"] or item["merged_at"]
        assert task.closed_at == (datetime.fromisoformat(ended) if ended else None)
        assert task.estimate_hours is None
        assert sorted(task.assignees.values_list("external_username", flat=True)) == sorted(
            assignee["username"] for assignee in item["assignees"]
        )
    merged = tasks["!15431"]
    assert (merged.title, merged.is_closed) == ("Quarantine failing test", True)
    assert merged.closed_at == datetime(2019, 8, 20, 8, 15, 51, 244000, tzinfo=UTC)
    assert sorted(tasks["!15440"].assignees.values_list("external_username", flat=True)) == ["avielle", "tkuah"]
