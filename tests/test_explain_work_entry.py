"""`explain_work_entry`: JSON explaining user mapping, every rule's outcome and the final match."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from siisurit.matching.service import project_match
from siisurit.models import ApiKind, MatchOn
from tests.factories import (
    make_organization,
    make_organization_profile,
    make_project,
    make_task,
    make_tracker,
    make_user,
    make_user_mapping,
    make_user_mapping_entry,
    make_work_entry,
    make_work_match,
)

pytestmark = pytest.mark.django_db

TOKEN = "ghp_very-secret-token-0123456789"


def _explain(*args: str) -> list[dict]:
    out = StringIO()
    call_command("explain_work_entry", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def setup():
    organization = make_organization()
    alice = make_user("alice", email="alice@example.com")
    make_organization_profile(organization, alice, is_default=True)
    mapping = make_user_mapping(organization, name="kimai.example.com", fallback="default")
    project = make_project(organization)
    kimai = make_tracker(project, name="kimai", api_kind=ApiKind.KIMAI, user_mapping=mapping, api_token=TOKEN)
    clockodo = make_tracker(project, name="clockodo", api_kind=ApiKind.CLOCKODO, api_token=TOKEN)
    github = make_tracker(project, name="github", api_kind=ApiKind.GITHUB, api_token=TOKEN)
    various = make_task(github, code="various", is_declared=True)
    make_task(github, code="#12", title="Login")
    by_code = make_work_match(
        github, MatchOn.PATTERN_TO_TASK_CODE, [kimai], priority=100, text_pattern=r"^(?P<task_code>#\d+)"
    )
    for_clockodo = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [clockodo], priority=50, target_task=various)
    fallback = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=1, target_task=various)
    return {
        "organization": organization,
        "project": project,
        "mapping": mapping,
        "alice": alice,
        "kimai": kimai,
        "clockodo": clockodo,
        "rules": (by_code, for_clockodo, fallback),
    }


def test_explains_a_match_by_code_and_the_rules_not_tried(setup):
    entry = make_work_entry(setup["kimai"], text="#12 fixed login", user=setup["alice"], external_username="alice")
    project_match(project_id=str(setup["project"].id))
    by_code, for_clockodo, fallback = setup["rules"]

    (explanation,) = _explain("--id", str(entry.id))

    assert explanation["work_entry"]["id"] == str(entry.id)
    assert explanation["work_entry"]["tracker"] == "kimai"
    assert [rule["id"] for rule in explanation["work_matches"]] == [
        str(by_code.id),
        str(for_clockodo.id),
        str(fallback.id),
    ]
    assert [(rule["outcome"], rule["reason"]) for rule in explanation["work_matches"]] == [
        ("matched", "matched"),
        ("skipped", "source_tracker_not_listed"),
        ("not_tried", "not_tried_earlier_rule_matched"),
    ]
    assert "'#12'" in explanation["work_matches"][0]["detail"]
    assert explanation["match"]["task"]["code"] == "#12"
    assert explanation["match"]["work_match"] == str(by_code.id)
    assert explanation["stored_match"]["agrees"] is True


def test_explains_code_without_task_falling_through(setup):
    entry = make_work_entry(setup["kimai"], text="#999 unknown")

    (explanation,) = _explain("--id", str(entry.id))

    first, _, last = explanation["work_matches"]
    assert (first["outcome"], first["reason"]) == ("not_applied", "no_task_with_code")
    assert "'#999'" in first["detail"]
    assert (last["outcome"], last["reason"]) == ("matched", "matched")
    assert explanation["match"]["task"]["code"] == "various"
    # Not matched yet: the stored result is out of date.
    assert explanation["stored_match"]["agrees"] is False
    assert "match_project" in explanation["stored_match"]["detail"]


def test_explains_pattern_that_did_not_match_and_unmatched_entries(setup):
    _, _, fallback = setup["rules"]
    fallback.delete()
    entry = make_work_entry(setup["kimai"], text="no code")

    (explanation,) = _explain("--id", str(entry.id))

    assert explanation["work_matches"][0]["reason"] == "text_pattern_did_not_match"
    assert explanation["match"] == {"task": None, "work_match": None, "detail": "unmatched: no rule applies"}


def test_explains_user_mappings(setup):
    bob = make_user("bob", email="bob@example.com")
    make_organization_profile(setup["organization"], bob)
    carol = make_user("carol")
    make_user_mapping_entry(setup["mapping"], "c.carol", carol)
    explicit = make_work_entry(setup["kimai"], external_username="c.carol", user=carol)
    automatic = make_work_entry(setup["kimai"], external_username="BOB@example.com", user=bob)
    fallback = make_work_entry(setup["kimai"], external_username="stranger", user=setup["alice"])
    unmapped = make_work_entry(setup["clockodo"], external_username="stranger")

    by_id = {
        explanation["work_entry"]["id"]: explanation["user_mapping"]
        for explanation in _explain("--started-from", "2000-01-01T00:00:00Z")
    }

    assert by_id[str(explicit.id)]["resolution"] == "explicit"
    assert by_id[str(explicit.id)]["user"] == "carol"
    assert by_id[str(explicit.id)]["user_mapping"] == "kimai.example.com"
    assert (by_id[str(automatic.id)]["resolution"], by_id[str(automatic.id)]["user"]) == ("automatic", "bob")
    assert (by_id[str(fallback.id)]["resolution"], by_id[str(fallback.id)]["user"]) == ("fallback", "alice")
    assert by_id[str(unmapped.id)]["resolution"] == "unmapped"
    assert by_id[str(unmapped.id)]["user_mapping"] is None
    assert by_id[str(unmapped.id)]["stored_user"] is None


def test_selects_the_most_recent_entries_of_a_user(setup):
    start = datetime(2024, 3, 1, 8, tzinfo=UTC)
    entries = [
        make_work_entry(setup["kimai"], user=setup["alice"], started_at=start + timedelta(hours=hour))
        for hour in range(5)
    ]
    make_work_entry(setup["kimai"], started_at=start + timedelta(days=1))  # someone else's

    explanations = _explain("--max-count", "2", "--username", "alice")

    assert [explanation["work_entry"]["id"] for explanation in explanations] == [
        str(entries[4].id),
        str(entries[3].id),
    ]


def test_selects_by_time_range_with_offsets(setup):
    start = datetime(2024, 3, 1, 8, tzinfo=UTC)
    entries = [make_work_entry(setup["kimai"], started_at=start + timedelta(hours=hour)) for hour in range(4)]

    # 10:00+01:00 is 09:00Z: from entry 1 (09:00Z) up to, not including, entry 3 (11:00Z).
    explanations = _explain("--started-from", "2024-03-01T10:00:00+01:00", "--started-until", "2024-03-01T11:00:00Z")

    assert [explanation["work_entry"]["id"] for explanation in explanations] == [str(entries[2].id), str(entries[1].id)]


def test_many_entries_stream_as_one_valid_json_array_without_tokens(setup):
    for number in range(30):
        make_work_entry(setup["kimai"], text=f"#12 part {number}")
    project_match(project_id=str(setup["project"].id))
    out = StringIO()

    call_command("explain_work_entry", "--max-count", "1000", stdout=out)

    explanations = json.loads(out.getvalue())
    assert len(explanations) == 30
    assert all(explanation["stored_match"]["agrees"] for explanation in explanations)
    assert TOKEN not in out.getvalue()


def test_no_matching_entries_give_an_empty_array(setup):
    assert _explain("--started-from", "2099-01-01T00:00:00Z") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id", "not-a-uuid"], "not a valid UUID"),
        (["--id", "0190f5b4-0000-7000-8000-000000000000"], "no work entry"),
        (["--username", "nobody"], "no user 'nobody'"),
        (["--started-from", "yesterday"], "not an ISO 8601 time"),
        (["--started-until", "2024-03-01T10:00:00"], "needs an offset"),
        (["--max-count", "0"], "positive whole number"),
        ([], "select work entries"),
    ],
)
def test_user_errors_are_clear_command_errors(setup, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("explain_work_entry", *args, stdout=StringIO())
