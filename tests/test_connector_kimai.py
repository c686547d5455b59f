"""Kimai connector: URL forms, field mapping, and downloads from the sandbox over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siisurit.connectors.kimai_mapping import (
    kimai_breadcrumb,
    kimai_datetime,
    kimai_location_parse,
    kimai_modified_after,
    kimai_username,
)
from siisurit.errors import PermanentError

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


def test_times_with_offset_become_utc():
    assert kimai_datetime("2024-05-02T09:00:00+0200") == datetime(2024, 5, 2, 7, 0, tzinfo=UTC)
    assert kimai_datetime("2020-03-27T14:35:00+1300") == datetime(2020, 3, 27, 1, 35, tzinfo=UTC)
    assert kimai_datetime(None) is None


def test_modified_after_is_utc_without_offset():
    assert kimai_modified_after(kimai_datetime("2024-05-02T09:00:00+0200")) == "2024-05-02T07:00:00"


def test_breadcrumb_and_username_from_full_objects():
    assert kimai_breadcrumb(FULL_TIMESHEET) == "Acme Corp / Webshop / Development"
    assert kimai_username(FULL_TIMESHEET) == "a.adams"
