"""YouTrack connector: URL forms, field mapping, and downloads from the sandbox over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sandbox import SandboxTrackers
from siisurit.connectors import TaskRecord, connector_for
from siisurit.connectors.youtrack import YouTrackConnector
from siisurit.connectors.youtrack_mapping import (
    estimate_field_name,
    youtrack_assignees,
    youtrack_estimate_hours,
    youtrack_location_parse,
    youtrack_state,
)
from siisurit.downloads.service import tracker_download
from siisurit.errors import PermanentError, TransientError
from siisurit.models import Task, TaskAssignee, Tracker
from siisurit.secrets import Secret
from tests.factories import make_organization, make_organization_profile, make_project, make_tracker, make_user

SAMPLE_ISSUE = {
    "$type": "Issue",
    "id": "2-5798",
    "idReadable": "DEMO-416",
    "numberInProject": 416,
    "summary": "Generation",
    "created": 1714640400000,
    "updated": 1714726800000,
    "resolved": None,
    "project": {"$type": "Project", "id": "0-0", "shortName": "DEMO", "name": "Demo"},
    "customFields": [
        {
            "$type": "StateIssueCustomField",
            "id": "92-3",
            "name": "State",
            "value": {"$type": "StateBundleElement", "name": "In Progress", "isResolved": False},
        },
        {
            "$type": "SingleUserIssueCustomField",
            "id": "92-4",
            "name": "Assignee",
            "value": {"$type": "User", "id": "1-3", "login": "jdoe", "fullName": "John Doe"},
        },
        {
            "$type": "MultiUserIssueCustomField",
            "id": "92-5",
            "name": "Reviewers",
            "value": [{"$type": "User", "login": "amy"}, {"$type": "User", "login": "bert"}],
        },
        {
            "$type": "PeriodIssueCustomField",
            "id": "92-7",
            "name": "Estimation",
            "value": {"$type": "PeriodValue", "id": "p-1", "minutes": 750, "presentation": "1d 4h 30m"},
        },
        {"$type": "PeriodIssueCustomField", "id": "92-8", "name": "Spent time", "value": None},
    ],
}


@pytest.mark.parametrize(
    ("url", "service_url", "project"),
    [
        ("https://example.youtrack.cloud/newIssue?project=DEMO&draftId=1-23", "https://example.youtrack.cloud", "DEMO"),
        ("https://example.youtrack.cloud/projects/DEMO", "https://example.youtrack.cloud", "DEMO"),
        ("https://example.youtrack.cloud/issue/DEMO-12", "https://example.youtrack.cloud", "DEMO"),
        ("https://example.youtrack.cloud/issue/DEMO-12/some-title", "https://example.youtrack.cloud", "DEMO"),
        ("https://example.youtrack.cloud/issues/DEMO", "https://example.youtrack.cloud", "DEMO"),
        ("https://example.myjetbrains.com/youtrack/issue/ABC-1", "https://example.myjetbrains.com/youtrack", "ABC"),
        (
            "https://example.myjetbrains.com/youtrack/newIssue?project=ABC",
            "https://example.myjetbrains.com/youtrack",
            "ABC",
        ),
        ("https://host.example.org/youtrack/projects/SHOP/", "https://host.example.org/youtrack", "SHOP"),
        ("http://127.0.0.1:8804/projects/DEMO", "http://127.0.0.1:8804", "DEMO"),
        ("https://host.example.org/issues?q=project:%20DEMO", "https://host.example.org", "DEMO"),
        ("https://host.example.org/projects/0-0", "https://host.example.org", "0-0"),
    ],
)
def test_location_forms_give_service_url_and_project(url, service_url, project):
    location = youtrack_location_parse(url)
    assert (location.service_url, location.project) == (service_url, project)
    assert location.api_base == f"{service_url}/api"


@pytest.mark.parametrize("url", ["https://example.youtrack.cloud/", "ftp://x/projects/A", "example.youtrack.cloud"])
def test_location_without_project_is_a_permanent_error(url):
    with pytest.raises(PermanentError, match="YouTrack location"):
        youtrack_location_parse(url)


def test_assignees_default_to_the_first_user_field():
    assert youtrack_assignees(SAMPLE_ISSUE, []) == ["jdoe"]


def test_custom_assignee_fields_are_case_sensitive_and_may_be_multi_user():
    assert youtrack_assignees(SAMPLE_ISSUE, ["Reviewers"]) == ["amy", "bert"]
    assert youtrack_assignees(SAMPLE_ISSUE, ["Reviewers", "Assignee"]) == ["amy", "bert", "jdoe"]
    assert youtrack_assignees(SAMPLE_ISSUE, ["reviewers"]) == []


def test_unassigned_single_user_field_gives_no_assignee():
    issue = {"customFields": [{"$type": "SingleUserIssueCustomField", "name": "Assignee", "value": None}]}
    assert youtrack_assignees(issue, []) == []


def test_estimate_minutes_become_hours_from_the_named_field():
    assert youtrack_estimate_hours(SAMPLE_ISSUE, "Estimation") == Decimal("12.50")
    assert youtrack_estimate_hours(SAMPLE_ISSUE, "Spent time") is None
    assert youtrack_estimate_hours(SAMPLE_ISSUE, None) is None


def test_state_and_closed_from_state_field_or_resolved_timestamp():
    assert youtrack_state(SAMPLE_ISSUE) == ("In Progress", False)
    assert youtrack_state({**SAMPLE_ISSUE, "resolved": 1714726800000}) == ("In Progress", True)
    fixed = {
        "customFields": [
            {"$type": "StateIssueCustomField", "name": "State", "value": {"name": "Fixed", "isResolved": True}}
        ]
    }
    assert youtrack_state(fixed) == ("Fixed", True)


def test_estimate_field_name_from_time_tracking_settings():
    enabled = {"enabled": True, "estimate": {"field": {"name": "Schätzung"}}}
    assert estimate_field_name(enabled) == "Schätzung"
    assert estimate_field_name({**enabled, "enabled": False}) is None
    assert estimate_field_name({"enabled": True, "estimate": None}) is None


# --- Downloads from the sandbox over real HTTP ---------------------------------------------------------------------

TASK_COUNT = 230


@pytest.fixture
def sandbox():
    with SandboxTrackers(seed=3, task_count=TASK_COUNT, entry_count=10) as trackers:
        yield trackers


def youtrack_tracker(sandbox, **fields) -> Tracker:
    fields.setdefault("api_location", sandbox.api_location("youtrack"))
    fields.setdefault("api_token", Secret(sandbox.token("youtrack")))
    return Tracker(name="demo-youtrack", api_kind="youtrack", **fields)


def download(tracker: Tracker, since: str | None = None) -> tuple[list[TaskRecord], YouTrackConnector]:
    with connector_for(tracker) as connector:
        records = [record for page in connector.download(since=since) for record in page.records]
    return records, connector


def test_location_variants_of_the_sandbox_are_understood(sandbox):
    for variant in (None, "newIssue"):
        location = youtrack_location_parse(sandbox.api_location("youtrack", variant))
        assert (location.service_url, location.project) == (sandbox.base_url("youtrack"), "DEMO")


def test_full_download_pages_through_every_issue(sandbox):
    records, connector = download(youtrack_tracker(sandbox))
    assert sorted(record.code for record in records) == sorted(sandbox.task_codes("youtrack"))
    assert connector.is_full
    # admin projects + time tracking settings + 3 pages of 100 (the last one short)
    assert connector.request_count == 2 + 3


def test_issue_fields_are_mapped(sandbox):
    records, _ = download(youtrack_tracker(sandbox))
    by_code = {record.code: record for record in records}
    for number in (1, 2, 3, 50, 117, TASK_COUNT):
        expected = sandbox.task("youtrack", f"DEMO-{number}")
        record = by_code[f"DEMO-{number}"]
        assert record.external_id == f"2-{number}"
        assert record.title == expected.title
        assert record.url == f"{sandbox.base_url('youtrack')}/issue/DEMO-{number}"
        assert record.created_at == datetime.fromtimestamp(expected.created, tz=UTC)
        assert record.updated_at == datetime.fromtimestamp(expected.updated, tz=UTC)
        assert record.is_closed == (expected.state == "closed")
        assert (record.closed_at is not None) == (expected.state == "closed")
        expected_hours = None if expected.estimate is None else Decimal(expected.estimate) / 3600
        assert record.estimate_hours == expected_hours
        expected_assignees = [sandbox.users[index].username for index in expected.assignees[:1]]
        assert record.assignees == expected_assignees
    states = {record.state for record in records}
    assert {"Open", "Fixed"} <= states


def test_estimate_field_comes_from_time_tracking_settings():
    with SandboxTrackers(seed=3, task_count=40, entry_count=10, youtrack_estimate_field="Schätzung") as sandbox:
        records, _ = download(youtrack_tracker(sandbox))
        estimated = [record for record in records if sandbox.task("youtrack", record.code).estimate]
        assert estimated
        assert all(record.estimate_hours is not None for record in estimated)


def test_forbidden_time_tracking_settings_fall_back_to_estimation(sandbox):
    sandbox.inject("youtrack", status=403, count=None, path="timeTrackingSettings")
    records, _ = download(youtrack_tracker(sandbox))
    assert any(record.estimate_hours is not None for record in records)


def test_forbidden_admin_projects_fall_back_to_the_short_name_of_the_location(sandbox):
    sandbox.inject("youtrack", status=403, count=None, path="/api/admin/projects")
    records, _ = download(youtrack_tracker(sandbox))
    assert len(records) == TASK_COUNT
    assert any(record.estimate_hours is not None for record in records)


def test_unknown_project_is_a_permanent_error(sandbox):
    location = f"{sandbox.base_url('youtrack')}/projects/NOPE"
    with pytest.raises(PermanentError, match="'NOPE' not found"):
        download(youtrack_tracker(sandbox, api_location=location))


def test_multi_user_assignee_field_gives_every_assignee():
    with SandboxTrackers(seed=3, task_count=60, entry_count=10, youtrack_multi_assignee=True) as sandbox:
        records, _ = download(youtrack_tracker(sandbox))
        for record in records:
            expected = sandbox.task("youtrack", record.code).assignees
            assert record.assignees == [sandbox.users[index].username for index in expected]
        assert any(len(record.assignees) == 2 for record in records)


def test_custom_assignee_fields_select_fields_by_exact_name(sandbox):
    records, _ = download(youtrack_tracker(sandbox, api_custom_assignee_fields="Assignee"))
    assert any(record.assignees for record in records)
    records, _ = download(youtrack_tracker(sandbox, api_custom_assignee_fields="assignee, Reviewer"))
    assert not any(record.assignees for record in records)


def test_wrong_token_is_a_permanent_error_without_the_token(sandbox):
    token = "perm:wrong.token.value"
    with (
        connector_for(youtrack_tracker(sandbox, api_token=Secret(token))) as connector,
        pytest.raises(PermanentError) as caught,
    ):
        list(connector.download())
    message = str(caught.value)
    assert "demo-youtrack" in message
    assert "401" in message
    assert token not in message
    assert connector.request_count == 1  # not retried


def test_rate_limit_with_retry_after_is_transient_then_succeeds(sandbox):
    sandbox.inject("youtrack", status=429, count=1, retry_after=7)
    with pytest.raises(TransientError) as caught:
        download(youtrack_tracker(sandbox))
    assert caught.value.retry_after == 7
    records, _ = download(youtrack_tracker(sandbox))
    assert len(records) == TASK_COUNT


def test_unavailable_server_is_transient(sandbox):
    sandbox.inject("youtrack", status=503, count=1)
    with pytest.raises(TransientError, match="503"):
        download(youtrack_tracker(sandbox))


def test_malformed_json_is_permanent(sandbox):
    sandbox.inject("youtrack", fault="truncate", count=1, path="/api/issues")
    with pytest.raises(PermanentError, match="malformed JSON"):
        download(youtrack_tracker(sandbox))


def test_incremental_download_reads_only_recent_changes(sandbox):
    tracker = youtrack_tracker(sandbox)
    _, full = download(tracker)
    sandbox.update_task("youtrack", 7, title="Changed title")
    records, incremental = download(tracker, since=full.cursor)
    assert not incremental.is_full
    # Newest first; the issue updated exactly at the cursor is read again (upserting it is harmless).
    assert (records[0].code, records[0].title) == ("DEMO-7", "Changed title")
    cursor = datetime.fromisoformat(full.cursor)
    assert all(record.updated_at == cursor for record in records[1:])
    assert incremental.request_count == 2 + 1
    assert datetime.fromisoformat(incremental.cursor) > cursor


# --- Through the download service (real PostgreSQL and Redis) ------------------------------------------------------


@pytest.fixture
def youtrack_row(sandbox, db):
    organization = make_organization()
    make_organization_profile(organization, make_user("alice"), is_default=True)
    return make_tracker(
        make_project(organization),
        name="demo-youtrack",
        api_kind="youtrack",
        api_location=sandbox.api_location("youtrack"),
        api_token=sandbox.token("youtrack"),
    )


def test_download_service_stores_tasks_and_maps_assignees(sandbox, youtrack_row):
    summary = tracker_download(tracker_id=str(youtrack_row.id))
    assert summary["created"] == TASK_COUNT
    assert Task.objects.filter(tracker=youtrack_row).count() == TASK_COUNT
    assignees = TaskAssignee.objects.filter(task__tracker=youtrack_row).select_related("user")
    users = {assignee.external_username: assignee.user for assignee in assignees}
    assert users["alice"].username == "alice"
    assert {"alice", "carol"} <= set(users)
    assert users["carol"] is None


def test_download_service_is_idempotent_and_deletes_upstream_deletions(sandbox, youtrack_row):
    tracker_download(tracker_id=str(youtrack_row.id))
    again = tracker_download(tracker_id=str(youtrack_row.id), full=True)
    assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)
    sandbox.delete_task("youtrack", "DEMO-9")
    after_deletion = tracker_download(tracker_id=str(youtrack_row.id), full=True)
    assert after_deletion["deleted"] == 1
    assert not Task.objects.filter(tracker=youtrack_row, code="DEMO-9").exists()


def test_download_service_second_run_is_incremental_and_cheaper(sandbox, youtrack_row):
    first = tracker_download(tracker_id=str(youtrack_row.id))
    sandbox.update_task("youtrack", 12, title="Edited upstream", state="closed")
    second = tracker_download(tracker_id=str(youtrack_row.id))
    assert first["full"] and not second["full"]
    assert second["requests"] < first["requests"]
    task = Task.objects.get(tracker=youtrack_row, code="DEMO-12")
    assert (task.title, task.is_closed) == ("Edited upstream", True)


def test_credentials_in_location_stay_out_of_service_url_and_messages():
    location = youtrack_location_parse("https://bob:perm-s3cret@example.myjetbrains.com/youtrack/projects/DEMO")
    assert location.service_url == "https://example.myjetbrains.com/youtrack"
    with pytest.raises(PermanentError) as error_info:
        youtrack_location_parse("https://bob:perm-s3cret@example.youtrack.cloud/")
    assert "perm-s3cret" not in str(error_info.value)
