"""GitHub connector against responses recorded from api.github.com (2012, 2022 and 2024; see github/SOURCES.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from siisurit.downloads.service import tracker_download
from siisurit.models import ApiKind, Task
from tests.contracts.replay import ReplayServer, json_response, recording
from tests.factories import make_tracker

pytestmark = pytest.mark.django_db

FOLDER = Path(__file__).parent / "github"
OCTOKIT_REPOSITORY = "octokit-fixture-org/tmp-scenario-paginate-issues-20220719043836917-izyoe"


@pytest.fixture
def server():
    with ReplayServer(origins=["https://api.github.com"]) as replay:
        yield replay


def github_tracker(server: ReplayServer, repository: str):
    return make_tracker(
        api_kind=ApiKind.GITHUB,
        api_location=f"{server.base_url}/{repository}",
        api_base_url=server.base_url,
        api_token="ghp_contractTestToken",
    )


def recorded_items(*names: str) -> list[dict]:
    return [item for name in names for item in recording(FOLDER, name).json()]


def is_recorded_pull_request(item: dict) -> bool:
    return bool((item.get("pull_request") or {}).get("html_url"))


def assert_stored_as_recorded(tracker, items: list[dict]) -> None:
    """Every recorded issue (no pull request) is a task whose fields equal the recording, and nothing else is."""
    issues = [item for item in items if not is_recorded_pull_request(item)]
    tasks = {task.external_id: task for task in Task.objects.filter(tracker=tracker).prefetch_related("assignees")}
    assert sorted(tasks) == sorted(str(item["id"]) for item in issues)
    for item in issues:
        task = tasks[str(item["id"])]
        recorded_assignees = item["assignees"] if "assignees" in item else [item["assignee"]] * bool(item["assignee"])
        assert (task.code, task.title, task.state, task.url) == (
            f"#{item['number']}",
            item["title"],
            item["state"],
            item["html_url"],
        )
        assert task.is_closed is (item["state"] == "closed")
        assert task.estimate_hours is None
        assert task.created_at == datetime.fromisoformat(item["created_at"])
        assert task.updated_at == datetime.fromisoformat(item["updated_at"])
        assert task.closed_at == (datetime.fromisoformat(item["closed_at"]) if item["closed_at"] else None)
        assert sorted(task.assignees.values_list("external_username", flat=True)) == sorted(
            assignee["login"] for assignee in recorded_assignees
        )


def test_follows_recorded_link_headers_through_every_page_to_the_end(server):
    pages = [f"octokit-2022-issues-page-{number}" for number in range(1, 6)]
    server.route(f"/repos/{OCTOKIT_REPOSITORY}/issues", recording(FOLDER, pages[0]))
    for number, name in enumerate(pages[1:], 2):
        server.route("/repositories/515435940/issues", recording(FOLDER, name), query={"page": str(number)})
    tracker = github_tracker(server, OCTOKIT_REPOSITORY)

    summary = tracker_download(tracker_id=str(tracker.id))

    assert (summary["pages"], summary["requests"], summary["created"], summary["full"]) == (5, 5, 13, True)
    assert [request.path for request in server.requests] == [
        f"/repos/{OCTOKIT_REPOSITORY}/issues",
        *["/repositories/515435940/issues"] * 4,
    ]
    assert [request.query.get("page") for request in server.requests] == [None, "2", "3", "4", "5"]
    first = server.requests[0]
    assert first.query == {"direction": "asc", "per_page": "100", "sort": "created", "state": "all"}
    assert first.headers["authorization"] == "Bearer ghp_contractTestToken"
    assert first.headers["x-github-api-version"] == "2022-11-28"
    assert server.unanswered == []
    assert_stored_as_recorded(tracker, recorded_items(*pages))
    newest = Task.objects.get(tracker=tracker, code="#13")
    assert (newest.external_id, newest.title, newest.state) == ("1308969059", "Test issue 13", "open")
    assert newest.created_at == datetime(2022, 7, 19, 4, 39, 16, tzinfo=UTC)


def test_a_second_download_sends_the_recorded_etags_and_keeps_every_issue_on_304(server):
    pages = [f"octokit-2022-issues-page-{number}" for number in range(1, 6)]
    server.route(f"/repos/{OCTOKIT_REPOSITORY}/issues", recording(FOLDER, pages[0]))
    for number, name in enumerate(pages[1:], 2):
        server.route("/repositories/515435940/issues", recording(FOLDER, name), query={"page": str(number)})
    tracker = github_tracker(server, OCTOKIT_REPOSITORY)
    tracker_download(tracker_id=str(tracker.id))
    server.requests.clear()

    summary = tracker_download(tracker_id=str(tracker.id), full=True)

    assert [request.headers.get("if-none-match") for request in server.requests] == [
        recording(FOLDER, name).header("ETag") for name in pages
    ]
    assert (summary["not_modified"], summary["unchanged"], summary["created"], summary["deleted"]) == (5, 13, 0, 0)
    assert Task.objects.filter(tracker=tracker).count() == 13


def test_keeps_2012_issues_whose_pull_request_object_has_no_url(server):
    # API v3 of 2012 put "pull_request": {"html_url": null, ...} on every plain issue.
    server.route("/repos/PyGithub/PyGithub/issues", recording(FOLDER, "pygithub-2012-issues"))
    tracker = github_tracker(server, "PyGithub/PyGithub")

    summary = tracker_download(tracker_id=str(tracker.id))

    items = recorded_items("pygithub-2012-issues")
    assert len(items) == 16 and all(item["pull_request"]["html_url"] is None for item in items)
    assert summary["created"] == 16
    assert_stored_as_recorded(tracker, items)
    task = Task.objects.get(tracker=tracker, code="#30")
    assert (task.title, task.updated_at) == (
        "Issue also created by PyGithub",
        datetime(2012, 5, 27, 5, 40, 15, tzinfo=UTC),
    )
    assert list(task.assignees.values_list("external_username", flat=True)) == ["jacquev6"]  # the single `assignee`


def test_drops_a_2012_pull_request_with_url_but_keeps_the_issue_beside_it(server):
    server.route("/repos/jacquev6/PyGithub/issues", recording(FOLDER, "pygithub-2012-issues-and-pull-request"))
    tracker = github_tracker(server, "jacquev6/PyGithub")

    tracker_download(tracker_id=str(tracker.id))

    assert list(Task.objects.filter(tracker=tracker).values_list("code", flat=True)) == ["#52"]
    assert_stored_as_recorded(tracker, recorded_items("pygithub-2012-issues-and-pull-request"))


def test_follows_2012_link_header_to_the_last_page(server):
    # Pages 13 and 14 of one recorded listing: page 13 answers the first request, its Link leads to page 14.
    server.route(
        "/repos/openframeworks/openFrameworks/issues", recording(FOLDER, "pygithub-2012-openframeworks-page-13")
    )
    server.route(
        "/repos/openframeworks/openFrameworks/issues",
        recording(FOLDER, "pygithub-2012-openframeworks-page-14"),
        query={"page": "14"},
    )
    tracker = github_tracker(server, "openframeworks/openFrameworks")

    summary = tracker_download(tracker_id=str(tracker.id))

    assert (summary["pages"], summary["created"]) == (2, 38)
    assert server.unanswered == []
    assert_stored_as_recorded(
        tracker, recorded_items("pygithub-2012-openframeworks-page-13", "pygithub-2012-openframeworks-page-14")
    )


def test_drops_2024_pull_requests_and_keeps_issues_with_their_assignees(server):
    server.route("/repos/PyGithub/PyGithub/issues", recording(FOLDER, "pygithub-2024-issues-and-pull-requests"))
    # Built, not recorded: the page after the recorded one, empty, as GitHub answers past the end of a listing.
    server.route("/repositories/3544490/issues", json_response(200, []), query={"page": "2"})
    tracker = github_tracker(server, "PyGithub/PyGithub")

    summary = tracker_download(tracker_id=str(tracker.id))

    items = recorded_items("pygithub-2024-issues-and-pull-requests")
    assert sum(map(is_recorded_pull_request, items)) == 9
    assert summary["created"] == 21
    assert_stored_as_recorded(tracker, items)
    assert not Task.objects.filter(tracker=tracker, code__in=["#3045", "#3043", "#3006"]).exists()
    task = Task.objects.get(tracker=tracker, code="#3036")
    assert list(task.assignees.values_list("external_username", flat=True)) == ["EnricoMi"]
