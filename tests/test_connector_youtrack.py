"""YouTrack connector: URL forms, field mapping, and downloads from the sandbox over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from siisurit.connectors.youtrack_mapping import (
    epoch_ms_to_datetime,
    estimate_field_name,
    youtrack_assignees,
    youtrack_estimate_hours,
    youtrack_location_parse,
    youtrack_state,
)
from siisurit.errors import PermanentError

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


def test_epoch_milliseconds_become_aware_utc():
    assert epoch_ms_to_datetime(1714640400000) == datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
    assert epoch_ms_to_datetime(None) is None


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
