"""Clockodo connector: URL forms, field mapping, and downloads from the sandbox over real HTTP."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from siisurit.connectors.clockodo_mapping import (
    clockodo_breadcrumb,
    clockodo_datetime,
    clockodo_duration_seconds,
    clockodo_location_parse,
    external_application,
    time_windows,
)
from siisurit.errors import PermanentError


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


def test_times_are_utc_in_both_formats():
    assert clockodo_datetime("2024-05-02T07:00:00Z") == datetime(2024, 5, 2, 7, tzinfo=UTC)
    assert clockodo_datetime("2024-05-02 07:00:00") == datetime(2024, 5, 2, 7, tzinfo=UTC)


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

