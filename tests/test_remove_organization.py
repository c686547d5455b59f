"""remove_organization: removes exactly one organization's rows, asks first, supports --dry-run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from siisurit.models import (
    MatchOn,
    Organization,
    OrganizationProfile,
    Project,
    Task,
    TaskAssignee,
    Tracker,
    User,
    UserMapping,
    UserMappingEntry,
    WorkEntry,
    WorkMatch,
)
from siisurit.organization_config import organization_remove
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
_REPO = Path(__file__).resolve().parent.parent
_MODELS = (
    Organization,
    OrganizationProfile,
    UserMapping,
    UserMappingEntry,
    Project,
    Tracker,
    Task,
    TaskAssignee,
    WorkMatch,
    WorkEntry,
    User,
)


def _populated_organization(code: str, user: User) -> Organization:
    organization = make_organization(code)
    make_organization_profile(organization, user, is_default=True)
    mapping = make_user_mapping(organization, "kimai")
    make_user_mapping_entry(mapping, f"{code}.{user.username}", user)
    project = make_project(organization, "app")
    github = make_tracker(project, "github", api_token="token")
    kimai = make_tracker(project, "kimai", api_kind="kimai", user_mapping=mapping)
    various = make_task(github, code="various", is_declared=True, external_id="")
    issue = make_task(github, code="#1")
    TaskAssignee.objects.create(task=issue, external_username=user.username, user=user)
    make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], target_task=various)
    make_work_entry(kimai, user=user, task=issue)
    make_work_entry(kimai, user=user)
    return organization


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in _MODELS}


@pytest.fixture
def two_organizations() -> tuple[Organization, Organization]:
    alice, bob = make_user("alice"), make_user("bob")
    return _populated_organization("doomed", alice), _populated_organization("kept", bob)


def test_removes_exactly_one_organization_and_keeps_users(two_organizations):
    _, kept = two_organizations
    before = _counts()
    stdout = io.StringIO()

    call_command("remove_organization", "doomed", "--no-input", stdout=stdout)

    after = _counts()
    assert after == {name: count if name == "User" else count // 2 for name, count in before.items()}
    assert list(Organization.objects.values_list("code", flat=True)) == ["kept"]
    assert WorkEntry.objects.filter(tracker__project__organization=kept).count() == 2
    assert set(User.objects.values_list("username", flat=True)) == {"alice", "bob"}
    output = stdout.getvalue()
    assert "2 work entries" in output and "1 organizations" in output and "Removed organization 'doomed'" in output


def test_service_returns_counts_per_kind(two_organizations):
    assert (
        organization_remove(code="doomed", dry_run=True)
        == organization_remove(code="doomed")
        == {
            "organization profiles": 1,
            "organizations": 1,
            "projects": 1,
            "task assignees": 1,
            "tasks": 2,
            "trackers": 2,
            "user mapping entries": 1,
            "user mappings": 1,
            "work entries": 2,
            "work matches": 1,
        }
    )


def test_dry_run_lists_and_writes_nothing(two_organizations):
    before = _counts()
    stdout = io.StringIO()

    call_command("remove_organization", "doomed", "--dry-run", stdout=stdout)

    assert _counts() == before
    assert "Would remove organization 'doomed'" in stdout.getvalue()


def test_asks_for_confirmation_and_only_yes_removes(two_organizations, monkeypatch):
    before = _counts()
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="cancelled"):
        call_command("remove_organization", "doomed", stdout=io.StringIO())
    assert _counts() == before

    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or "yes")
    call_command("remove_organization", "doomed", stdout=io.StringIO())
    assert "Type 'yes' to continue" in prompts[0]
    assert not Organization.objects.filter(code="doomed").exists()


def test_unknown_code_is_a_command_error(two_organizations):
    with pytest.raises(CommandError, match="unknown organization 'nope' \\(known: doomed, kept\\)"):
        call_command("remove_organization", "nope", "--no-input")


def test_unknown_code_in_a_subprocess_exits_non_zero():
    environment = {**os.environ, "SII_POSTGRES_DATABASE": connection.settings_dict["NAME"]}
    result = subprocess.run(
        [sys.executable, "manage.py", "remove_organization", "nope", "--no-input"],
        cwd=_REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "unknown organization 'nope'" in result.stderr


def test_without_a_terminal_to_confirm_nothing_is_removed(two_organizations, monkeypatch):
    def no_terminal(prompt: str) -> str:
        raise EOFError

    before = _counts()
    monkeypatch.setattr("builtins.input", no_terminal)
    with pytest.raises(CommandError, match="cancelled"):
        call_command("remove_organization", "doomed", stdout=io.StringIO())
    assert _counts() == before
