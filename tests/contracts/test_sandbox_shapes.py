"""The sandbox imitations of Kimai, Clockodo and YouTrack answer with the keys of the contract data."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sandbox import SandboxTrackers
from siisurit.connectors.youtrack_mapping import ISSUE_FIELDS
from tests.contracts.replay import recording

CONTRACTS = Path(__file__).parent
TIMEOUT = 10


@pytest.fixture(scope="module")
def sandbox():
    with SandboxTrackers(seed=11, task_count=20, entry_count=60) as trackers:
        yield trackers


def get(sandbox: SandboxTrackers, kind: str, path: str, params: dict, headers: dict) -> requests.Response:
    response = requests.get(sandbox.base_url(kind) + path, params=params, headers=headers, timeout=TIMEOUT)
    response.raise_for_status()
    return response


def keys(item: dict) -> list[str]:
    return sorted(item)


def test_kimai_full_timesheets_nest_the_objects_kimai_nests(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.token('kimai')}"}
    params = {"user": "all", "full": "true", "size": 5}
    answer = get(sandbox, "kimai", "/api/timesheets", params, headers)
    (recorded, *_) = recording(CONTRACTS / "kimai", "timesheets-full-page-1").json()

    for timesheet in answer.json():
        assert keys(timesheet) == keys(recorded)
        assert keys(timesheet["project"]) == keys(recorded["project"])
        assert keys(timesheet["project"]["customer"]) == keys(recorded["project"]["customer"])
        assert keys(timesheet["activity"]) == keys(recorded["activity"])
        assert keys(timesheet["user"]) == keys(recorded["user"])
    recorded_headers = recording(CONTRACTS / "kimai", "timesheets-full-page-1").headers
    for name, _ in recorded_headers:
        assert name in answer.headers


@pytest.mark.parametrize("listing", ["customers", "projects", "activities", "users"])
def test_kimai_master_data_lists_carry_the_keys_of_kimai_collections(sandbox, listing):
    headers = {"Authorization": f"Bearer {sandbox.token('kimai')}"}
    answer = get(sandbox, "kimai", f"/api/{listing}", {"visible": "3"}, headers).json()
    (recorded, *_) = recording(CONTRACTS / "kimai", listing).json()

    assert answer
    for item in answer:
        assert keys(item) == keys(recorded)


def test_kimai_counts_one_page_for_an_empty_listing(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.token('kimai')}"}
    answer = get(sandbox, "kimai", "/api/timesheets", {"active": "1", "size": 2}, headers)
    recorded = recording(CONTRACTS / "kimai", "timesheets-empty")

    assert answer.json() == recorded.json() == []
    for name in ("X-Page", "X-Total-Count", "X-Total-Pages", "X-Per-Page"):
        assert answer.headers[name] == recorded.header(name)


def test_clockodo_entries_carry_the_recorded_keys(sandbox):
    headers = {
        "X-ClockodoApiUser": sandbox.username("clockodo"),
        "X-ClockodoApiKey": sandbox.token("clockodo"),
        "X-Clockodo-External-Application": "Siisurit tests;admin@example.com",
        "X-ClockodoEnableIsoUtcDateTimes": "1",
    }
    params = {"time_since": "2000-01-01T00:00:00Z", "time_until": "2100-01-01T00:00:00Z"}
    answer = get(sandbox, "clockodo", "/api/v2/entries", params, headers).json()
    recorded = recording(CONTRACTS / "clockodo", "entries-page-1").json()
    finished = recorded["entries"][0]  # recorded verbatim (see clockodo/SOURCES.md)

    assert keys(answer) == keys(recorded)
    assert keys(answer["paging"]) == keys(recorded["paging"])
    assert answer["entries"]
    for entry in answer["entries"]:
        assert keys(entry) == keys(finished)
        assert entry["text"] is None or entry["text"].strip()  # an entry without text has "text": null


def test_youtrack_issues_answer_the_fields_the_connector_asks_for(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.token('youtrack')}"}
    params = {"query": "project: DEMO", "fields": ISSUE_FIELDS, "$top": 20}
    answer = get(sandbox, "youtrack", "/api/issues", params, headers).json()
    recorded = recording(CONTRACTS / "youtrack", "issues-page-1").json()

    assert answer
    for issue in answer:
        assert keys(issue) == keys(recorded[1])
        for field in issue["customFields"]:
            assert keys(field) == ["$type", "id", "name", "value"]
