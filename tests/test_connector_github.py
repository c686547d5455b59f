"""GitHub connector against the sandbox: URL forms, auth, paging, mapping, faults, caching, deletions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox import SandboxTrackers
from siisurit.connectors.github import GitHubConnector
from siisurit.connectors.locations import github_repository
from siisurit.downloads.service import tracker_download
from siisurit.errors import PermanentError, TransientError
from siisurit.models import Task
from tests.factories import (
    make_organization,
    make_organization_profile,
    make_project,
    make_tracker,
    make_user,
    make_user_mapping,
)

pytestmark = pytest.mark.django_db

TASK_COUNT = 230  # with every 5th number a pull request: 230 issues need 3 pages of 100 items


@pytest.fixture
def sandbox():
    with SandboxTrackers(seed=3, task_count={"github": TASK_COUNT}, entry_count=0) as trackers:
        yield trackers


def github_tracker(sandbox, **fields):
    fields.setdefault("api_location", sandbox.api_location("github"))
    fields.setdefault("api_token", sandbox.token("github"))
    return make_tracker(fields.pop("project", None) or make_project(), api_kind="github", **fields)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://github.com/acme/webshop", ("https://api.github.com", "acme", "webshop")),
        ("https://github.com/acme/webshop.git", ("https://api.github.com", "acme", "webshop")),
        ("https://github.com/acme/webshop/issues/12", ("https://api.github.com", "acme", "webshop")),
        ("git@github.com:acme/webshop.git", ("https://api.github.com", "acme", "webshop")),
        ("ssh://git@github.com/acme/webshop.git", ("https://api.github.com", "acme", "webshop")),
        ("https://git.example.com/acme/webshop", ("https://git.example.com/api/v3", "acme", "webshop")),
        ("git@git.example.com:acme/webshop.git", ("https://git.example.com/api/v3", "acme", "webshop")),
        ("http://127.0.0.1:8801/acme/webshop/pull/3", ("http://127.0.0.1:8801/api/v3", "acme", "webshop")),
    ],
)
def test_can_derive_api_base_from_location(location, expected):
    assert github_repository(location, "test") == expected


def test_credentials_in_location_stay_out_of_api_base_and_messages():
    assert github_repository("https://bob:ghp_s3cret@git.example.com/acme/webshop", "t") == (
        "https://git.example.com/api/v3",
        "acme",
        "webshop",
    )
    with pytest.raises(PermanentError) as error_info:
        github_repository("https://bob:ghp_s3cret@github.com/acme", "tracker 'x'")
    assert "ghp_s3cret" not in str(error_info.value)


def test_fails_on_location_without_repository():
    with pytest.raises(PermanentError, match="names no repository"):
        github_repository("https://github.com/acme", "tracker 'x'")


def test_api_base_url_overrides_location(sandbox):
    tracker = github_tracker(sandbox, api_base_url="https://ghe.example.com/api/v3/")
    assert GitHubConnector(tracker).api_base() == "https://ghe.example.com/api/v3"


def test_can_download_all_issues_without_pull_requests(sandbox):
    tracker = github_tracker(sandbox)
    summary = tracker_download(tracker_id=str(tracker.id))
    expected_codes = set(sandbox.task_codes("github"))
    assert set(Task.objects.filter(tracker=tracker).values_list("code", flat=True)) == expected_codes
    assert summary["created"] == len(expected_codes) == summary["items"]
    assert summary["full"] is True
    assert summary["pages"] == summary["requests"] >= 3


def test_maps_fields_of_an_issue(sandbox):
    tracker = github_tracker(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    closed = next(code for code in sandbox.task_codes("github") if sandbox.task("github", code).state == "closed")
    upstream = sandbox.task("github", closed)
    task = Task.objects.get(tracker=tracker, code=closed)
    assert task.title == upstream.title
    assert task.is_closed and task.state == "closed"
    assert task.estimate_hours is None
    assert task.created_at == datetime.fromtimestamp(upstream.created, tz=UTC)
    assert task.closed_at == datetime.fromtimestamp(upstream.closed, tz=UTC)
    assert task.url.endswith(f"/acme/webshop/issues/{upstream.number}")
    assert task.external_id.isdigit()
    expected_assignees = {sandbox.users[index].username for index in upstream.assignees}
    assert set(task.assignees.values_list("external_username", flat=True)) == expected_assignees


def test_maps_assignees_to_users(sandbox):
    project = make_project(make_organization())
    alice = make_user("alice-siisurit", email="alice@example.com")
    bob = make_user("bob")
    make_organization_profile(project.organization, alice)
    make_organization_profile(project.organization, bob)
    tracker = github_tracker(sandbox, project=project, user_mapping=make_user_mapping(project.organization))
    tracker_download(tracker_id=str(tracker.id))
    assignees = {
        assignee.external_username: assignee.user_id
        for task in Task.objects.filter(tracker=tracker).prefetch_related("assignees")
        for assignee in task.assignees.all()
    }
    assert assignees["bob"] == bob.id  # username equals
    assert assignees.get("alice") in (None, alice.id)  # only by e-mail: GitHub gives no e-mail
    assert assignees["carol"] is None  # no such member, no fallback


def test_fails_at_once_with_wrong_token(sandbox):
    tracker = github_tracker(sandbox, api_token="ghp_wrongTokenValue123")
    with pytest.raises(PermanentError) as error_info:
        tracker_download(tracker_id=str(tracker.id))
    message = str(error_info.value)
    assert tracker.name in message and "401" in message
    assert "ghp_wrongTokenValue123" not in message
    assert sandbox.stats["github"]["requests"] == 1


def test_rate_limit_is_transient_with_retry_after_from_reset(sandbox):
    tracker = github_tracker(sandbox)
    sandbox.inject("github", fault="rate_limit", reset_in=30)
    with pytest.raises(TransientError) as error_info:
        tracker_download(tracker_id=str(tracker.id))
    assert 25 <= error_info.value.retry_after <= 31
    assert tracker_download(tracker_id=str(tracker.id))["items"] == len(sandbox.task_codes("github"))


def test_secondary_rate_limit_is_transient(sandbox):
    tracker = github_tracker(sandbox)
    sandbox.inject("github", fault="secondary_rate_limit", retry_after=7)
    with pytest.raises(TransientError) as error_info:
        tracker_download(tracker_id=str(tracker.id))
    assert error_info.value.retry_after == 7


def test_429_with_retry_after_then_success_resumes_after_the_committed_page(sandbox):
    tracker = github_tracker(sandbox)
    sandbox.inject("github", status=429, retry_after=3, every=2, count=1)  # the second page fails once
    with pytest.raises(TransientError) as error_info:
        tracker_download(tracker_id=str(tracker.id))
    assert error_info.value.retry_after == 3
    assert Task.objects.filter(tracker=tracker).count() > 0  # the first page was committed
    sandbox.reset_stats()
    summary = tracker_download(tracker_id=str(tracker.id))
    assert summary["resumed"] is True
    assert sandbox.stats["github"]["requests"] == summary["pages"]  # the first page is not asked for again
    assert Task.objects.filter(tracker=tracker).count() == len(sandbox.task_codes("github"))


def test_503_is_transient(sandbox):
    tracker = github_tracker(sandbox)
    sandbox.inject("github", status=503)
    with pytest.raises(TransientError, match="503"):
        tracker_download(tracker_id=str(tracker.id))


def test_malformed_json_is_permanent(sandbox):
    tracker = github_tracker(sandbox)
    sandbox.inject("github", fault="truncate")
    with pytest.raises(PermanentError, match=r"malformed JSON"):
        tracker_download(tracker_id=str(tracker.id))


def test_second_download_is_served_by_304_and_changes_nothing(sandbox):
    tracker = github_tracker(sandbox)
    first = tracker_download(tracker_id=str(tracker.id), full=True)
    rows_before = list(Task.objects.filter(tracker=tracker).order_by("code").values_list("id", "code", "title"))
    sandbox.reset_stats()
    second = tracker_download(tracker_id=str(tracker.id), full=True)
    assert sandbox.stats["github"]["not_modified"] == sandbox.stats["github"]["requests"] == first["requests"]
    assert second["created"] == second["updated"] == second["deleted"] == 0
    assert second["unchanged"] == second["items"] == first["items"]
    assert list(Task.objects.filter(tracker=tracker).order_by("code").values_list("id", "code", "title")) == (
        rows_before
    )


def test_incremental_download_fetches_only_changes(sandbox):
    tracker = github_tracker(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    code = sandbox.task_codes("github")[5]
    sandbox.update_task("github", code, title="Renamed upstream")
    sandbox.reset_stats()
    summary = tracker_download(tracker_id=str(tracker.id))
    assert summary["full"] is False
    assert summary["requests"] == 1
    assert summary["updated"] == 1
    assert Task.objects.get(tracker=tracker, code=code).title == "Renamed upstream"


def test_full_download_removes_tasks_deleted_upstream(sandbox):
    tracker = github_tracker(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    code = sandbox.task_codes("github")[0]
    sandbox.delete_task("github", code)
    summary = tracker_download(tracker_id=str(tracker.id), full=True)
    assert summary["deleted"] == 1
    assert not Task.objects.filter(tracker=tracker, code=code).exists()
    assert Task.objects.filter(tracker=tracker).count() == len(sandbox.task_codes("github"))


def test_refuses_plain_http_to_remote_host(sandbox):
    tracker = github_tracker(sandbox, api_location="http://github.example.com/acme/webshop")
    with pytest.raises(PermanentError, match="plain http"):
        tracker_download(tracker_id=str(tracker.id))
