"""Kimai connector: URL forms, field mapping, and downloads from the sandbox over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sandbox import SandboxTrackers
from siisurit.connectors import WorkRecord, connector_for
from siisurit.connectors.kimai import KimaiConnector
from siisurit.connectors.kimai_mapping import (
    kimai_breadcrumb,
    kimai_location_parse,
    kimai_modified_after,
    kimai_username,
)
from siisurit.downloads.service import tracker_download
from siisurit.errors import PermanentError, TransientError
from siisurit.models import Tracker, WorkEntry
from siisurit.secrets import Secret
from tests.factories import (
    make_organization,
    make_organization_profile,
    make_project,
    make_tracker,
    make_user,
    make_user_mapping,
    make_user_mapping_entry,
)

LOCATION = "https://kimai.example.com/en/admin/project/34/details"

FULL_TIMESHEET = {
    "id": 4711,
    "begin": "2024-05-02T09:00:00+0200",
    "end": "2024-05-02T10:30:00+0200",
    "duration": 5400,
    "description": "#29 Add kimai configuration",
    "user": {"id": 5, "username": "a.adams", "alias": "Alice"},
    "activity": {"id": 12, "name": "Development", "project": None},
    "project": {"id": 34, "name": "Webshop", "customer": {"id": 1, "name": "Acme Corp"}},
}


@pytest.mark.parametrize(
    ("url", "api_base", "scope", "item_id"),
    [
        ("https://kimai.example.com/en/admin/project/123/details", "https://kimai.example.com/api", "project", 123),
        ("https://kimai.example.com/de_AT/admin/customer/7/details", "https://kimai.example.com/api", "customer", 7),
        ("https://example.com/kimai/en/admin/project/5/details?x=1", "https://example.com/kimai/api", "project", 5),
        ("http://127.0.0.1:8805/en/admin/project/1/details", "http://127.0.0.1:8805/api", "project", 1),
        ("https://kimai.example.com/en/admin/activity/3/details", "https://kimai.example.com/api", "activity", 3),
    ],
)
def test_location_forms_give_api_base_and_filter(url, api_base, scope, item_id):
    location = kimai_location_parse(url)
    assert (location.api_base, location.scope, location.id) == (api_base, scope, item_id)


@pytest.mark.parametrize("url", ["https://kimai.example.com/", "https://kimai.example.com/en/timesheet/", "nonsense"])
def test_location_without_project_or_customer_is_a_permanent_error(url):
    with pytest.raises(PermanentError, match="Kimai location"):
        kimai_location_parse(url)


def test_credentials_in_location_stay_out_of_api_base_and_messages():
    location = kimai_location_parse("https://bob:s3cret-pass@example.com/kimai/en/admin/project/5/details")
    assert location.api_base == "https://example.com/kimai/api"
    with pytest.raises(PermanentError) as error_info:
        kimai_location_parse("https://bob:s3cret-pass@example.com/en/timesheet/")
    assert "s3cret-pass" not in str(error_info.value)


def test_modified_after_is_utc_without_offset():
    moment = datetime(2024, 5, 2, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    assert kimai_modified_after(moment) == "2024-05-02T07:00:00"


def test_breadcrumb_and_username_from_full_objects():
    assert kimai_breadcrumb(FULL_TIMESHEET) == "Acme Corp / Webshop / Development"
    assert kimai_username(FULL_TIMESHEET) == "a.adams"


def test_running_timesheets_are_skipped_and_times_become_utc():
    connector = KimaiConnector(Tracker(name="k", api_kind="kimai", api_location=LOCATION))
    assert connector._work_record({**FULL_TIMESHEET, "end": None}) is None
    record = connector._work_record(FULL_TIMESHEET)
    assert record.started_at == datetime(2024, 5, 2, 7, 0, tzinfo=UTC)
    assert (record.external_id, record.duration_seconds, record.text) == ("4711", 5400, "#29 Add kimai configuration")
    assert (record.external_username, record.breadcrumb_trail) == ("a.adams", "Acme Corp / Webshop / Development")


# --- Downloads from the sandbox over real HTTP ---------------------------------------------------------------------

ENTRY_COUNT = 1100  # 3 pages of 500


@pytest.fixture
def sandbox():
    with SandboxTrackers(seed=5, task_count=20, entry_count=ENTRY_COUNT) as trackers:
        yield trackers


def kimai_tracker(sandbox, variant: str | None = None, **fields) -> Tracker:
    fields.setdefault("api_location", sandbox.api_location("kimai", variant))
    fields.setdefault("api_token", Secret(sandbox.token("kimai")))
    return Tracker(name="demo-kimai", api_kind="kimai", **fields)


def download(tracker: Tracker, since: str | None = None) -> tuple[list[WorkRecord], KimaiConnector]:
    with connector_for(tracker) as connector:
        records = [record for page in connector.download(since=since) for record in page.records]
    return records, connector


def test_full_download_stops_at_the_total_pages(sandbox):
    records, connector = download(kimai_tracker(sandbox))
    assert sorted(int(record.external_id) for record in records) == sorted(sandbox.entry_ids("kimai"))
    assert connector.is_full
    assert connector.request_count == 3  # no request for page 4 (which would be 404)
    assert 404 not in sandbox.stats["kimai"]["statuses"]


def test_customer_location_downloads_all_projects_of_the_customer(sandbox):
    records, _ = download(kimai_tracker(sandbox, "customer"))
    acme_projects = {1, 2}
    expected = [
        entry_id
        for entry_id in sandbox.entry_ids("kimai", all_projects=True)
        if sandbox.entry("kimai", entry_id).project in acme_projects
    ]
    assert len(expected) > ENTRY_COUNT
    assert sorted(int(record.external_id) for record in records) == sorted(expected)
    assert {record.breadcrumb_trail.split(" / ")[1] for record in records} == {"Webshop", "Intranet"}


def test_timesheet_fields_are_mapped_with_times_in_utc(sandbox):
    records, _ = download(kimai_tracker(sandbox))
    users = {user.index: user for user in sandbox.users}
    activities = {1: "Development", 2: "Design", 3: "Meetings", 4: "Code review"}
    for record in records:
        expected = sandbox.entry("kimai", int(record.external_id))
        assert record.started_at == datetime.fromtimestamp(expected.begin, tz=UTC)
        assert record.started_at.utcoffset() == timedelta(0)
        assert record.duration_seconds == expected.duration
        assert record.text == expected.text
        assert record.external_username == users[expected.user].username
        assert record.breadcrumb_trail == f"Acme Corp / Webshop / {activities[expected.activity]}"


def test_summer_time_offset_is_converted(sandbox):
    summer_begin = datetime(2024, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    entry_id = sandbox.add_entry("kimai", text="#1 summer", begin=summer_begin, duration=1800, user="alice")
    records, _ = download(kimai_tracker(sandbox))
    (record,) = [record for record in records if record.external_id == str(entry_id)]
    assert record.started_at == datetime(2024, 7, 1, 7, 0, tzinfo=UTC)


def test_wrong_token_is_a_permanent_error_without_the_token(sandbox):
    token = "wrong-kimai-token"
    with (
        connector_for(kimai_tracker(sandbox, api_token=Secret(token))) as connector,
        pytest.raises(PermanentError) as caught,
    ):
        list(connector.download())
    message = str(caught.value)
    assert "demo-kimai" in message
    assert "401" in message
    assert token not in message
    assert connector.request_count == 1  # not retried


def test_rate_limit_with_retry_after_is_transient_then_succeeds(sandbox):
    sandbox.inject("kimai", status=429, count=1, retry_after=3)
    with pytest.raises(TransientError) as caught:
        download(kimai_tracker(sandbox))
    assert caught.value.retry_after == 3
    records, _ = download(kimai_tracker(sandbox))
    assert len(records) == ENTRY_COUNT


def test_unavailable_server_is_transient(sandbox):
    sandbox.inject("kimai", status=503, count=1)
    with pytest.raises(TransientError, match="503"):
        download(kimai_tracker(sandbox))


def test_malformed_json_is_permanent(sandbox):
    sandbox.inject("kimai", fault="truncate", count=1)
    with pytest.raises(PermanentError, match="malformed JSON"):
        download(kimai_tracker(sandbox))


def test_incremental_download_asks_for_modified_entries_only(sandbox):
    tracker = kimai_tracker(sandbox)
    _, full = download(tracker)
    entry_id = sandbox.entry_ids("kimai")[10]
    sandbox.update_entry("kimai", entry_id, text="#2 changed")
    records, incremental = download(tracker, since=full.cursor)
    assert [(record.external_id, record.text) for record in records] == [(str(entry_id), "#2 changed")]
    assert not incremental.is_full
    assert incremental.request_count == 1
    assert incremental.cursor >= full.cursor


# --- Through the download service (real PostgreSQL and Redis) ------------------------------------------------------


@pytest.fixture
def kimai_row(sandbox, db):
    organization = make_organization()
    alice = make_user("alice")
    make_organization_profile(organization, alice, is_default=True)
    robert = make_user("robert", email="robert@example.org")
    make_organization_profile(organization, robert)
    mapping = make_user_mapping(organization, "kimai.example.com")
    make_user_mapping_entry(mapping, "bob", robert)
    return make_tracker(
        make_project(organization),
        name="demo-kimai",
        api_kind="kimai",
        api_location=sandbox.api_location("kimai"),
        api_token=sandbox.token("kimai"),
        user_mapping=mapping,
    )


def test_download_service_maps_users_by_username(sandbox, kimai_row):
    summary = tracker_download(tracker_id=str(kimai_row.id))
    assert summary["created"] == ENTRY_COUNT
    entries = WorkEntry.objects.filter(tracker=kimai_row)
    assert entries.count() == ENTRY_COUNT
    by_username = {entry.external_username: entry.user for entry in entries}
    assert by_username["alice"].username == "alice"  # automatically, same username
    assert by_username["bob"].username == "robert"  # explicitly mapped
    assert by_username["carol"] is None  # unknown, no fallback


def test_download_service_is_idempotent_and_deletes_upstream_deletions(sandbox, kimai_row):
    tracker_download(tracker_id=str(kimai_row.id))
    again = tracker_download(tracker_id=str(kimai_row.id), full=True)
    assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)
    assert again["unchanged"] == ENTRY_COUNT
    deleted_id = sandbox.entry_ids("kimai")[5]
    sandbox.delete_entry("kimai", deleted_id)
    after_deletion = tracker_download(tracker_id=str(kimai_row.id), full=True)
    assert after_deletion["deleted"] == 1
    assert not WorkEntry.objects.filter(tracker=kimai_row, external_id=str(deleted_id)).exists()
    assert WorkEntry.objects.filter(tracker=kimai_row).count() == ENTRY_COUNT - 1


def test_download_service_second_run_is_incremental_and_cheaper(sandbox, kimai_row):
    first = tracker_download(tracker_id=str(kimai_row.id))
    entry_id = sandbox.entry_ids("kimai")[7]
    sandbox.update_entry("kimai", entry_id, text="#3 edited")
    second = tracker_download(tracker_id=str(kimai_row.id))
    assert first["full"] and not second["full"]
    assert (second["items"], second["updated"]) == (1, 1)
    assert second["requests"] < first["requests"]
    assert WorkEntry.objects.get(tracker=kimai_row, external_id=str(entry_id)).text == "#3 edited"
