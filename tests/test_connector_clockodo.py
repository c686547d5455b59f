"""Clockodo connector: URL forms, field mapping, and downloads from the sandbox over real HTTP."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from sandbox import SandboxTrackers
from siisurit.connectors import WorkRecord, connector_for
from siisurit.connectors.clockodo import HISTORY_DAYS, ClockodoConnector
from siisurit.connectors.clockodo_mapping import (
    clockodo_breadcrumb,
    clockodo_duration_seconds,
    clockodo_location_parse,
    external_application,
    time_windows,
)
from siisurit.downloads.service import tracker_download
from siisurit.errors import PermanentError, TransientError
from siisurit.models import Tracker, WorkEntry
from siisurit.secrets import Secret
from tests.factories import make_organization, make_organization_profile, make_project, make_tracker, make_user

LOCATION = "https://my.clockodo.com/en/projectreports/report/?id=123"


@pytest.mark.parametrize(
    ("url", "api_base", "project_id"),
    [
        ("https://my.clockodo.com/en/projectreports/report/?id=123", "https://my.clockodo.com/api", 123),
        ("https://my.clockodo.com/de/projectreports/report/?id=9&x=1", "https://my.clockodo.com/api", 9),
        ("https://my.clockodo.com/api/v2/entries?filter[projects_id]=77", "https://my.clockodo.com/api", 77),
        ("https://my.clockodo.com/en/projects/55/", "https://my.clockodo.com/api", 55),
        ("https://my.clockodo.com/en/reports/?projects_id=8", "https://my.clockodo.com/api", 8),
        ("http://127.0.0.1:8806/en/projectreports/report/?id=123", "http://127.0.0.1:8806/api", 123),
    ],
)
def test_location_forms_give_api_base_and_project(url, api_base, project_id):
    location = clockodo_location_parse(url)
    assert (location.api_base, location.project_id) == (api_base, project_id)


@pytest.mark.parametrize("url", ["https://my.clockodo.com/en/", "https://my.clockodo.com/en/report/?id=x", "x"])
def test_location_without_project_is_a_permanent_error(url):
    with pytest.raises(PermanentError, match="Clockodo location"):
        clockodo_location_parse(url)


def test_external_application_header_fits_into_50_characters():
    assert external_application("ops@example.com") == "Siisurit;ops@example.com"
    assert len(external_application("a-very-long-contact-address@subdomain.example.com")) == 50


def test_duration_adds_offset_and_clocking_entries_have_none():
    assert clockodo_duration_seconds({"time_until": "x", "duration": 5400}) == 5400
    assert clockodo_duration_seconds({"time_until": "x", "duration": 5400, "offset": -600}) == 4800
    assert clockodo_duration_seconds({"time_until": None, "duration": None}) is None


def test_yearly_windows_cover_the_range_without_gaps():
    since, until = datetime(2021, 3, 15, tzinfo=UTC), datetime(2024, 6, 1, 12, tzinfo=UTC)
    windows = list(time_windows(since, until))
    assert windows[0] == (since, datetime(2022, 3, 1, tzinfo=UTC))
    assert windows[-1][1] == until
    assert all(left[1] == right[0] for left, right in itertools.pairwise(windows))
    assert len(list(time_windows(since, datetime(2021, 6, 1, tzinfo=UTC), months=1))) == 3


def test_breadcrumb_from_master_data_with_ids_for_unknown_names():
    entry = {"customers_id": 10, "projects_id": 123, "services_id": 7}
    assert clockodo_breadcrumb(entry, {10: "Acme"}, {123: "Webshop"}, {7: "Development"}) == (
        "Acme / Webshop / Development"
    )
    assert clockodo_breadcrumb({**entry, "projects_id": None}, {10: "Acme"}, {}, {}) == "Acme / #7"


def test_lump_sums_and_clocking_entries_are_skipped():
    connector = ClockodoConnector(Tracker(name="c", api_kind="clockodo", api_location=LOCATION))
    entry = {
        "id": 4711, "type": 1, "customers_id": 10, "projects_id": 123, "services_id": 7, "users_id": 55,
        "text": "#29 Add clockodo configuration", "time_since": "2024-05-02T07:00:00Z",
        "time_until": "2024-05-02T08:30:00Z", "duration": 5400, "time_last_change": "2024-05-02T08:31:02Z",
    }  # fmt: skip
    names = {"users": {55: ("Ann Adams", "ann@example.com")}, "customers": {10: "Siisurit"},
             "projects": {123: "Siisurit Guide"}, "services": {7: "Development"}}  # fmt: skip
    record = connector._work_record(entry, set(), **names)
    assert (record.external_id, record.external_username, record.external_email) == (
        "4711", "ann@example.com", "ann@example.com"
    )  # fmt: skip
    assert record.breadcrumb_trail == "Siisurit / Siisurit Guide / Development"
    assert record.started_at == datetime(2024, 5, 2, 7, tzinfo=UTC)
    assert record.updated_at == datetime(2024, 5, 2, 8, 31, 2, tzinfo=UTC)
    assert connector._work_record({**entry, "type": 2}, set(), **names) is None
    assert connector._work_record({**entry, "time_until": None, "duration": None}, set(), **names) is None
    assert connector._work_record(entry, {"4711"}, **names) is None  # already seen in an earlier window


# --- Downloads from the sandbox over real HTTP ---------------------------------------------------------------------

ENTRY_COUNT = 260  # 6 pages of 50


@pytest.fixture
def sandbox():
    with SandboxTrackers(seed=7, task_count=20, entry_count=ENTRY_COUNT) as trackers:
        yield trackers


def clockodo_tracker(sandbox, **fields) -> Tracker:
    fields.setdefault("api_location", sandbox.api_location("clockodo"))
    fields.setdefault("api_token", Secret(sandbox.token("clockodo")))
    fields.setdefault("api_username", sandbox.username("clockodo"))
    return Tracker(name="demo-clockodo", api_kind="clockodo", **fields)


def download(tracker: Tracker, since: str | None = None) -> tuple[list[WorkRecord], ClockodoConnector]:
    with connector_for(tracker) as connector:
        records = [record for page in connector.download(since=since) for record in page.records]
    return records, connector


def test_full_download_pages_through_every_window(sandbox):
    records, connector = download(clockodo_tracker(sandbox))
    assert sorted(int(record.external_id) for record in records) == sorted(sandbox.entry_ids("clockodo"))
    assert len(records) == ENTRY_COUNT
    assert connector.is_full
    now = datetime.now(tz=UTC)
    begins = [datetime.fromtimestamp(sandbox.entry("clockodo", int(r.external_id)).begin, tz=UTC) for r in records]
    pages = 0
    for start, end in time_windows(now - timedelta(days=HISTORY_DAYS), now):
        in_window = sum(1 for begin in begins if start <= begin <= end)
        pages += max(1, -(-in_window // 50))  # an empty window still costs one request
    master_data = 4
    assert connector.request_count == master_data + pages


def test_entry_fields_are_mapped_through_master_data(sandbox):
    records, _ = download(clockodo_tracker(sandbox))
    users = {55 + user.index: user for user in sandbox.users}
    services = {7: "Development", 8: "Design", 9: "Meetings"}
    for record in records:
        expected = sandbox.entry("clockodo", int(record.external_id))
        user = users[55 + expected.user]
        assert (record.external_username, record.external_email) == (user.email, user.email)
        assert record.started_at == datetime.fromtimestamp(expected.begin, tz=UTC)
        assert record.duration_seconds == expected.duration
        assert record.text == expected.text
        assert record.breadcrumb_trail == f"Acme Corp / Webshop / {services[expected.activity]}"
        assert record.updated_at == datetime.fromtimestamp(expected.modified, tz=UTC)


def test_unreadable_master_data_falls_back_to_ids(sandbox):
    sandbox.inject("clockodo", status=403, count=None, path="/api/v3/users")
    sandbox.inject("clockodo", status=403, count=None, path="/api/v4/services")
    records, _ = download(clockodo_tracker(sandbox))
    assert len(records) == ENTRY_COUNT
    record = records[0]
    expected = sandbox.entry("clockodo", int(record.external_id))
    assert record.external_username == f"user {55 + expected.user}"
    assert record.breadcrumb_trail == f"Acme Corp / Webshop / #{expected.activity}"


def test_wrong_api_key_is_a_permanent_error_without_the_key(sandbox):
    key = "wrong-clockodo-api-key"
    with (
        connector_for(clockodo_tracker(sandbox, api_token=Secret(key))) as connector,
        pytest.raises(PermanentError) as caught,
    ):
        list(connector.download())
    message = str(caught.value)
    assert "demo-clockodo" in message
    assert "401" in message
    assert key not in message
    assert connector.request_count == 1  # not retried


def test_missing_api_user_is_a_permanent_error(sandbox):
    with (
        connector_for(clockodo_tracker(sandbox, api_username="")) as connector,
        pytest.raises(PermanentError, match="api_username"),
    ):
        list(connector.download())
    assert connector.request_count == 0


def test_retired_endpoint_is_a_permanent_error(sandbox):
    sandbox.inject("clockodo", status=410, count=1)
    with pytest.raises(PermanentError, match=r"410.*retired"):
        download(clockodo_tracker(sandbox))


def test_rate_limit_with_retry_after_is_transient_then_succeeds(sandbox):
    sandbox.inject("clockodo", status=429, count=1, retry_after=5, path="/api/v2/entries")
    with pytest.raises(TransientError) as caught:
        download(clockodo_tracker(sandbox))
    assert caught.value.retry_after == 5
    records, _ = download(clockodo_tracker(sandbox))
    assert len(records) == ENTRY_COUNT


def test_unavailable_server_is_transient(sandbox):
    sandbox.inject("clockodo", status=503, count=1)
    with pytest.raises(TransientError, match="503"):
        download(clockodo_tracker(sandbox))


def test_malformed_json_is_permanent(sandbox):
    sandbox.inject("clockodo", fault="truncate", count=1, path="/api/v2/entries")
    with pytest.raises(PermanentError, match="malformed JSON"):
        download(clockodo_tracker(sandbox))


def test_incremental_download_reads_a_trailing_window_only(sandbox):
    tracker = clockodo_tracker(sandbox)
    _, full = download(tracker)
    newest = max(sandbox.entry_ids("clockodo"))
    sandbox.update_entry("clockodo", newest, text="DEMO-1 changed")
    records, incremental = download(tracker, since=full.cursor)
    assert not incremental.is_full
    assert str(newest) in {record.external_id for record in records}
    assert len(records) < ENTRY_COUNT
    assert incremental.request_count < full.request_count
    assert incremental.cursor > full.cursor


# --- Through the download service (real PostgreSQL and Redis) ------------------------------------------------------


@pytest.fixture
def clockodo_row(sandbox, db):
    organization = make_organization()
    make_organization_profile(organization, make_user("alice"), is_default=True)
    make_organization_profile(organization, make_user("bobby", email="bob@example.com"))
    return make_tracker(
        make_project(organization),
        name="demo-clockodo",
        api_kind="clockodo",
        api_location=sandbox.api_location("clockodo"),
        api_token=sandbox.token("clockodo"),
        api_username=sandbox.username("clockodo"),
    )


def test_download_service_maps_users_by_email(sandbox, clockodo_row):
    summary = tracker_download(tracker_id=str(clockodo_row.id))
    assert summary["created"] == ENTRY_COUNT
    users = {entry.external_username: entry.user for entry in WorkEntry.objects.filter(tracker=clockodo_row)}
    assert users["alice@example.com"].username == "alice"
    assert users["bob@example.com"].username == "bobby"
    assert users["carol@example.com"] is None


def test_download_service_is_idempotent_and_deletes_upstream_deletions(sandbox, clockodo_row):
    tracker_download(tracker_id=str(clockodo_row.id))
    again = tracker_download(tracker_id=str(clockodo_row.id), full=True)
    assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)
    deleted_id = sandbox.entry_ids("clockodo")[3]
    sandbox.delete_entry("clockodo", deleted_id)
    after_deletion = tracker_download(tracker_id=str(clockodo_row.id), full=True)
    assert after_deletion["deleted"] == 1
    assert WorkEntry.objects.filter(tracker=clockodo_row).count() == ENTRY_COUNT - 1


def test_download_service_second_run_is_incremental_and_cheaper(sandbox, clockodo_row):
    first = tracker_download(tracker_id=str(clockodo_row.id))
    newest = max(sandbox.entry_ids("clockodo"))
    sandbox.update_entry("clockodo", newest, text="DEMO-2 edited")
    second = tracker_download(tracker_id=str(clockodo_row.id))
    assert first["full"] and not second["full"]
    assert second["requests"] < first["requests"]
    assert WorkEntry.objects.get(tracker=clockodo_row, external_id=str(newest)).text == "DEMO-2 edited"


def test_credentials_in_location_stay_out_of_api_base_and_messages():
    location = clockodo_location_parse("https://me%40x.com:s3cret-key@my.clockodo.com/en/projectreports/report/?id=7")
    assert (location.api_base, location.project_id) == ("https://my.clockodo.com/api", 7)
    with pytest.raises(PermanentError) as error_info:
        clockodo_location_parse("https://me:s3cret-key@my.clockodo.com/en/")
    assert "s3cret-key" not in str(error_info.value)
