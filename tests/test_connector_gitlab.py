"""GitLab connector against the sandbox: URL forms, issues and merge requests, estimates, faults, incremental."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sandbox import SandboxTrackers
from siisurit.connectors.gitlab import GitLabConnector
from siisurit.connectors.locations import gitlab_project
from siisurit.downloads.service import tracker_download
from siisurit.errors import PermanentError, TransientError
from siisurit.models import Task
from tests.factories import make_project, make_tracker

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox():
    with SandboxTrackers(seed=5, task_count={"gitlab": 150}, merge_request_count=60, entry_count=0) as trackers:
        yield trackers


def gitlab_tracker(sandbox, **fields):
    fields.setdefault("api_location", sandbox.api_location("gitlab"))
    fields.setdefault("api_token", sandbox.token("gitlab"))
    return make_tracker(make_project(), api_kind="gitlab", **fields)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://gitlab.com/acme/webshop", ("https://gitlab.com/api/v4", "acme/webshop")),
        ("https://gitlab.com/acme/sub/webshop.git", ("https://gitlab.com/api/v4", "acme/sub/webshop")),
        (
            "https://gitlab.com/acme/sub/deeper/webshop/-/issues/5",
            ("https://gitlab.com/api/v4", "acme/sub/deeper/webshop"),
        ),
        ("https://gitlab.com/acme/webshop/-/merge_requests/3/diffs", ("https://gitlab.com/api/v4", "acme/webshop")),
        ("git@gitlab.com:acme/sub/webshop.git", ("https://gitlab.com/api/v4", "acme/sub/webshop")),
        ("https://git.example.org/team/tool", ("https://git.example.org/api/v4", "team/tool")),
        ("http://127.0.0.1:8802/acme/webshop/-/issues", ("http://127.0.0.1:8802/api/v4", "acme/webshop")),
    ],
)
def test_can_derive_api_base_from_location(location, expected):
    assert gitlab_project(location, "test") == expected


def test_project_path_is_url_encoded_in_requests(sandbox):
    tracker = gitlab_tracker(sandbox, api_location="git@gitlab.com:acme/sub/webshop.git")
    connector = GitLabConnector(tracker)
    assert connector.api_base() == "https://gitlab.com/api/v4"
    assert connector.project_path == "acme/sub/webshop"


def test_can_download_issues_and_merge_requests(sandbox):
    tracker = gitlab_tracker(sandbox)
    summary = tracker_download(tracker_id=str(tracker.id))
    codes = set(Task.objects.filter(tracker=tracker).values_list("code", flat=True))
    assert codes == set(sandbox.task_codes("gitlab"))
    assert {code[0] for code in codes} == {"#", "!"}
    assert summary["created"] == len(codes) and summary["pages"] >= 3


def test_maps_estimates_states_and_times(sandbox):
    tracker = gitlab_tracker(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    codes = sandbox.task_codes("gitlab")
    estimated = next(code for code in codes if code.startswith("#") and sandbox.task("gitlab", code).estimate)
    upstream = sandbox.task("gitlab", estimated)
    task = Task.objects.get(tracker=tracker, code=estimated)
    assert task.estimate_hours == (Decimal(upstream.estimate) / 3600).quantize(Decimal("0.01"))
    assert task.created_at.replace(microsecond=0) == datetime.fromtimestamp(upstream.created, tz=UTC)
    assert task.url.endswith(f"/-/issues/{upstream.number}")
    merged = next(
        code
        for code in codes
        if code.startswith("!")
        and sandbox.task("gitlab", code).state == "closed"
        and sandbox.task("gitlab", code).resolution != "not_planned"
    )
    merge_request = Task.objects.get(tracker=tracker, code=merged)
    assert merge_request.state == "merged" and merge_request.is_closed and merge_request.closed_at is not None
    assert merge_request.external_id.startswith("mr:")


def test_fails_at_once_with_wrong_token(sandbox):
    tracker = gitlab_tracker(sandbox, api_token="glpat-wrong-token-value")
    with pytest.raises(PermanentError) as error_info:
        tracker_download(tracker_id=str(tracker.id))
    assert "401" in str(error_info.value) and tracker.name in str(error_info.value)
    assert "glpat-wrong-token-value" not in str(error_info.value)


def test_unknown_project_is_permanent(sandbox):
    tracker = gitlab_tracker(sandbox, api_location=sandbox.base_url("gitlab") + "/acme/nothing")
    with pytest.raises(PermanentError, match="404"):
        tracker_download(tracker_id=str(tracker.id))


def test_429_with_retry_after_then_success(sandbox):
    tracker = gitlab_tracker(sandbox)
    sandbox.inject("gitlab", status=429, retry_after=2)
    with pytest.raises(TransientError) as error_info:
        tracker_download(tracker_id=str(tracker.id))
    assert error_info.value.retry_after == 2
    assert tracker_download(tracker_id=str(tracker.id))["items"] == len(sandbox.task_codes("gitlab"))


def test_429_without_headers_is_transient(sandbox):
    tracker = gitlab_tracker(sandbox)
    sandbox.inject("gitlab", status=429)
    with pytest.raises(TransientError) as error_info:
        tracker_download(tracker_id=str(tracker.id))
    assert error_info.value.retry_after is None


def test_dropped_connection_is_retried_in_place(sandbox, settings):
    settings.SII_HTTP_ATTEMPTS, settings.SII_HTTP_RETRY_BACKOFF_IN_SECONDS = 2, 0
    tracker = gitlab_tracker(sandbox)
    sandbox.inject("gitlab", fault="drop")
    summary = tracker_download(tracker_id=str(tracker.id))
    assert summary["items"] == len(sandbox.task_codes("gitlab"))
    assert summary["requests"] == summary["pages"] + 1


def test_repeated_drops_are_transient(sandbox, settings):
    settings.SII_HTTP_ATTEMPTS, settings.SII_HTTP_RETRY_BACKOFF_IN_SECONDS = 2, 0
    tracker = gitlab_tracker(sandbox)
    sandbox.inject("gitlab", fault="drop", count=2)
    with pytest.raises(TransientError, match=r"gave up after 2 attempts over .*: connection"):
        tracker_download(tracker_id=str(tracker.id))


def test_second_download_is_incremental_and_cheap(sandbox):
    tracker = gitlab_tracker(sandbox)
    first = tracker_download(tracker_id=str(tracker.id))
    second = tracker_download(tracker_id=str(tracker.id))
    assert second["full"] is False
    assert second["requests"] == 2  # one short page of issues, one of merge requests
    assert second["created"] == second["updated"] == second["deleted"] == 0
    assert Task.objects.filter(tracker=tracker).count() == first["items"]
    sandbox.update_task("gitlab", "!3", title="Merged feature, renamed")
    third = tracker_download(tracker_id=str(tracker.id))
    assert third["updated"] == 1
    assert Task.objects.get(tracker=tracker, code="!3").title == "Merged feature, renamed"


def test_full_download_removes_deleted_merge_request(sandbox):
    tracker = gitlab_tracker(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    sandbox.delete_task("gitlab", "!2")
    summary = tracker_download(tracker_id=str(tracker.id), full=True)
    assert summary["deleted"] == 1
    assert not Task.objects.filter(tracker=tracker, code="!2").exists()
