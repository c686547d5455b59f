"""Jira connector against the sandbox: URL forms, Basic auth, Cloud and Server search, mapping, faults."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sandbox import SandboxTrackers
from siisurit.connectors.jira import JiraConnector
from siisurit.connectors.locations import jira_project
from siisurit.downloads.service import tracker_download
from siisurit.errors import PermanentError, TransientError
from siisurit.models import Task
from tests.factories import make_organization_profile, make_project, make_tracker, make_user, make_user_mapping

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox():
    with SandboxTrackers(seed=7, task_count={"jira": 240}, entry_count=0) as trackers:
        yield trackers


def jira_tracker(sandbox, **fields):
    fields.setdefault("api_location", sandbox.api_location("jira"))
    fields.setdefault("api_token", sandbox.token("jira"))
    fields.setdefault("api_username", sandbox.username("jira"))
    return make_tracker(fields.pop("project", None) or make_project(), api_kind="jira", **fields)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://acme.atlassian.net/browse/SHOP-12", ("https://acme.atlassian.net", "SHOP")),
        ("https://acme.atlassian.net/jira/software/projects/SHOP/boards/1", ("https://acme.atlassian.net", "SHOP")),
        ("https://acme.atlassian.net/jira/software/c/projects/SHOP/issues", ("https://acme.atlassian.net", "SHOP")),
        ("https://acme.atlassian.net/projects/SHOP", ("https://acme.atlassian.net", "SHOP")),
        ("https://jira.example.com/jira/browse/OPS_2-7", ("https://jira.example.com/jira", "OPS_2")),
        ("https://jira.example.com/secure/RapidBoard.jspa?projectKey=WEB", ("https://jira.example.com", "WEB")),
    ],
)
def test_can_derive_site_and_project_key_from_location(location, expected):
    assert jira_project(location, "test") == expected


def test_fails_on_location_without_project():
    with pytest.raises(PermanentError, match="names no Jira project"):
        jira_project("https://acme.atlassian.net/jira/your-work", "tracker 'x'")


def test_cloud_sites_use_api_v3(sandbox):
    tracker = jira_tracker(sandbox, api_location="https://acme.atlassian.net/browse/SHOP-1")
    assert JiraConnector(tracker).api_base() == "https://acme.atlassian.net/rest/api/3"


def test_can_download_all_issues_with_cloud_search(sandbox):
    tracker = jira_tracker(sandbox)
    summary = tracker_download(tracker_id=str(tracker.id))
    assert set(Task.objects.filter(tracker=tracker).values_list("code", flat=True)) == set(sandbox.task_codes("jira"))
    assert summary["pages"] == 3 and summary["created"] == 240


@pytest.mark.parametrize("variant", ["project", "board"])
def test_can_download_with_other_location_forms(sandbox, variant):
    tracker = jira_tracker(sandbox, api_location=sandbox.api_location("jira", variant))
    assert tracker_download(tracker_id=str(tracker.id))["created"] == 240


def test_can_download_from_server_search_with_start_at(sandbox):
    tracker = jira_tracker(sandbox, api_base_url=sandbox.base_url("jira") + "/rest/api/2")
    summary = tracker_download(tracker_id=str(tracker.id))
    assert summary["created"] == 240 and summary["requests"] == 3


def test_maps_fields_estimates_and_time_zones(sandbox):
    tracker = jira_tracker(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    codes = sandbox.task_codes("jira")
    code = next(code for code in codes if sandbox.task("jira", code).estimate and sandbox.task("jira", code).closed)
    upstream = sandbox.task("jira", code)
    task = Task.objects.get(tracker=tracker, code=code)
    assert task.estimate_hours == (Decimal(upstream.estimate) / 3600).quantize(Decimal("0.01"))
    assert task.is_closed and task.state == "Done"
    assert task.created_at.replace(microsecond=0) == datetime.fromtimestamp(upstream.created, tz=UTC)
    assert task.closed_at.replace(microsecond=0) == datetime.fromtimestamp(upstream.closed, tz=UTC)
    assert task.url == f"{sandbox.base_url('jira')}/browse/{code}"
    assert task.title == upstream.title


def test_maps_assignees_by_email_to_members(sandbox):
    project = make_project()
    alice = make_user("alice-s", email="alice@example.com")
    make_organization_profile(project.organization, alice, is_default=True)
    mapping = make_user_mapping(project.organization, fallback="default")
    tracker = jira_tracker(sandbox, project=project, user_mapping=mapping)
    tracker_download(tracker_id=str(tracker.id))
    from siisurit.models import TaskAssignee

    assignees = TaskAssignee.objects.filter(task__tracker=tracker)
    assert assignees.filter(external_username="alice@example.com", user=alice).exists()
    assert not assignees.filter(user__isnull=True).exists()  # the fallback maps everybody else to alice


def test_fails_at_once_with_wrong_token(sandbox):
    tracker = jira_tracker(sandbox, api_token="wrong-jira-token-1234")
    with pytest.raises(PermanentError) as error_info:
        tracker_download(tracker_id=str(tracker.id))
    assert "401" in str(error_info.value) and tracker.name in str(error_info.value)
    assert "wrong-jira-token-1234" not in str(error_info.value)


def test_unknown_project_is_permanent(sandbox):
    tracker = jira_tracker(sandbox, api_location=sandbox.base_url("jira") + "/browse/NOPE-1")
    with pytest.raises(PermanentError, match="400"):
        tracker_download(tracker_id=str(tracker.id))


def test_429_then_success(sandbox):
    tracker = jira_tracker(sandbox)
    sandbox.inject("jira", status=429, retry_after=4)
    with pytest.raises(TransientError) as error_info:
        tracker_download(tracker_id=str(tracker.id))
    assert error_info.value.retry_after == 4
    assert tracker_download(tracker_id=str(tracker.id))["items"] == 240


def test_503_is_transient(sandbox):
    tracker = jira_tracker(sandbox)
    sandbox.inject("jira", status=503, count=None)
    with pytest.raises(TransientError, match="503"):
        tracker_download(tracker_id=str(tracker.id))


def test_malformed_json_is_permanent(sandbox):
    tracker = jira_tracker(sandbox)
    sandbox.inject("jira", fault="truncate", count=None)
    with pytest.raises(PermanentError, match="malformed JSON"):
        tracker_download(tracker_id=str(tracker.id))


def test_repeated_download_is_idempotent_and_incremental(sandbox):
    tracker = jira_tracker(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    ids_before = set(Task.objects.filter(tracker=tracker).values_list("id", flat=True))
    again = tracker_download(tracker_id=str(tracker.id))
    assert again["full"] is False and again["created"] == again["updated"] == 0
    full = tracker_download(tracker_id=str(tracker.id), full=True)
    assert full["created"] == full["updated"] == full["deleted"] == 0 and full["unchanged"] == 240
    assert set(Task.objects.filter(tracker=tracker).values_list("id", flat=True)) == ids_before


def test_full_download_removes_deleted_issue(sandbox):
    tracker = jira_tracker(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    sandbox.delete_task("jira", "SHOP-3")
    assert tracker_download(tracker_id=str(tracker.id), full=True)["deleted"] == 1
    assert not Task.objects.filter(tracker=tracker, code="SHOP-3").exists()
