"""update_organization: import, idempotency, removal of dropped entities, validation with lines, dry run, atomicity."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from siisurit.environment import Environment
from siisurit.management.commands.update_organization import Command as UpdateOrganizationCommand
from siisurit.models import (
    MatchOn,
    Organization,
    OrganizationProfile,
    Project,
    Task,
    Tracker,
    UserMapping,
    UserMappingEntry,
    WorkEntry,
    WorkMatch,
)
from siisurit.organization_config import OrganizationConfigError, organization_update
from tests.factories import make_task, make_user, make_work_entry
from tests.organization_files import (
    BASE_YAML,
    GITHUB_TOKEN,
    KIMAI_TOKEN,
    edited,
    line_of,
    token_environment,
    write_file,
)

_ = token_environment  # a fixture, used by name
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("token_environment")]
_REPO = Path(__file__).resolve().parent.parent
_MODELS = (
    Organization,
    OrganizationProfile,
    UserMapping,
    UserMappingEntry,
    Project,
    Tracker,
    Task,
    WorkMatch,
    WorkEntry,
)


@pytest.fixture
def users() -> None:
    make_user("alice")
    make_user("bob")


def _row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in _MODELS}


def _import(tmp_path: Path, text: str = BASE_YAML, **options) -> str:
    stdout = io.StringIO()
    call_command("update_organization", str(write_file(tmp_path, text)), stdout=stdout, **options)
    return stdout.getvalue()


def _problems(tmp_path: Path, text: str) -> OrganizationConfigError:
    with pytest.raises(OrganizationConfigError) as caught:
        organization_update(path=write_file(tmp_path, text))
    return caught.value


@pytest.mark.usefixtures("users")
def test_import_creates_the_organization_and_everything_in_it(tmp_path):
    summary = organization_update(path=write_file(tmp_path, BASE_YAML))

    organization = Organization.objects.get(code="test")
    assert (organization.name, organization.timezone) == ("Test LLC", "Europe/Vienna")
    profiles = {profile.user.username: profile.is_default for profile in organization.profiles.all()}
    assert profiles == {"alice": True, "bob": False}
    mapping = organization.user_mappings.get()
    assert (mapping.name, mapping.fallback) == ("kimai.example.com", "default")
    assert [(entry.external_username, entry.user.username) for entry in mapping.entries.all()] == [("a.adams", "alice")]
    assert sorted(organization.projects.values_list("code", flat=True)) == ["app", "site"]
    kimai = Tracker.objects.get(name="app-kimai")
    github = Tracker.objects.get(name="app-github")
    assert (kimai.api_kind, kimai.user_mapping, kimai.api_token.reveal()) == ("kimai", mapping, KIMAI_TOKEN)
    assert (github.api_username, github.api_token.reveal()) == ("someone", GITHUB_TOKEN)
    various = Task.objects.get(tracker=github, code="various")
    assert (various.title, various.is_declared, various.estimate_hours) == ("Various", True, Decimal("0"))
    code_match, fallback = github.work_matches.order_by("position")
    assert (code_match.match_on, code_match.priority, code_match.text_pattern) == (
        MatchOn.PATTERN_TO_TASK_CODE,
        100,
        r"^(?P<task_code>#\d+).*",
    )
    assert list(code_match.source_work_trackers.all()) == [kimai]
    assert (fallback.match_on, fallback.target_task, fallback.priority) == (MatchOn.ALWAYS_TO_TASK, various, 1)
    assert list(fallback.source_work_trackers.all()) == [kimai]
    assert summary.total("created") == 1 + 2 + 1 + 1 + 2 + 3 + 1 + 2
    assert summary.total("updated") == summary.total("removed") == 0


@pytest.mark.usefixtures("users")
def test_second_import_changes_nothing_and_counts_everything_as_unchanged(tmp_path):
    _import(tmp_path)
    ids_before = {model.__name__: set(model.objects.values_list("id", flat=True)) for model in _MODELS}

    summary = organization_update(path=write_file(tmp_path, BASE_YAML))

    assert not summary.has_changes
    assert summary.total("unchanged") == 13
    assert summary.counts["work match"] == {"created": 0, "updated": 0, "unchanged": 2, "removed": 0}
    assert {model.__name__: set(model.objects.values_list("id", flat=True)) for model in _MODELS} == ids_before
    assert "is up to date" in _import(tmp_path)


@pytest.mark.usefixtures("users")
def test_edits_are_applied_and_dropped_entities_removed_but_downloaded_data_of_kept_trackers_stays(tmp_path):
    _import(tmp_path)
    github = Tracker.objects.get(name="app-github")
    kimai = Tracker.objects.get(name="app-kimai")
    gitlab = Tracker.objects.get(name="site-gitlab")
    downloaded = make_task(github, code="#1")
    entry = make_work_entry(kimai, external_id="kept")
    make_task(gitlab, code="#2")
    github.download_state = {"since": "2024-01-01"}
    github.save()
    text = edited(BASE_YAML, "    - username: bob\n", "")
    text = edited(
        text, 'api_location: "git@github.com:someone/anything.git"', 'api_location: "git@github.com:someone/other.git"'
    )
    text = edited(text, "        - external_username: a.adams\n          username: alice\n", "")
    text = edited(text, "            - match_on: always\n", "            - match_on: always_to_task\n")
    text = edited(
        text,
        "            - {title: Various, code: various, estimates: 0}\n",
        "            - {title: Other, code: other, estimates: 2.5}\n",
    )
    text = edited(text, "target_task: various", "target_task: other")
    text = text[: text.index("    - code: site")]  # drops project "site" with its tracker and downloaded task

    summary = organization_update(path=write_file(tmp_path, text))

    assert summary.counts["organization profile"]["removed"] == 1
    assert summary.counts["user mapping entry"]["removed"] == 1
    assert summary.counts["project"] == {"created": 0, "updated": 0, "unchanged": 1, "removed": 1}
    assert summary.counts["tracker"] == {"created": 0, "updated": 1, "unchanged": 1, "removed": 1}
    assert summary.counts["declared task"] == {"created": 1, "updated": 0, "unchanged": 0, "removed": 1}
    assert summary.counts["work match"] == {"created": 0, "updated": 1, "unchanged": 1, "removed": 0}
    assert summary.counts["downloaded task"]["removed"] == 1
    assert list(Project.objects.values_list("code", flat=True)) == ["app"]
    assert not Tracker.objects.filter(name="site-gitlab").exists()
    assert list(OrganizationProfile.objects.values_list("user__username", flat=True)) == ["alice"]
    assert not UserMappingEntry.objects.exists()
    assert set(Task.objects.filter(tracker=github).values_list("code", flat=True)) == {"#1", "other"}
    assert Task.objects.get(code="other").estimate_hours == Decimal("2.50")
    assert WorkMatch.objects.get(match_on=MatchOn.ALWAYS_TO_TASK).target_task.code == "other"
    github.refresh_from_db()
    assert github.api_location == "git@github.com:someone/other.git"
    assert github.download_state == {}, "a new location needs a full download"
    assert Task.objects.filter(id=downloaded.id).exists()
    assert WorkEntry.objects.filter(id=entry.id).exists()
    assert not organization_update(path=write_file(tmp_path, text)).has_changes


@pytest.mark.usefixtures("users")
def test_removing_a_work_match_and_a_tracker_from_the_file_removes_them_with_their_data(tmp_path):
    _import(tmp_path)
    gitlab = Tracker.objects.get(name="site-gitlab")
    make_task(gitlab, code="#9")
    text = edited(
        BASE_YAML,
        "            - match_on: always\n              source_work_trackers: app-kimai\n"
        "              target_task: various\n              priority: 1\n",
        "",
    )
    text = edited(text, "      trackers:\n        - name: site-gitlab", "      trackers:\n        - name: site-jira")
    text = edited(text, "api_kind: gitlab", "api_kind: jira")

    summary = organization_update(path=write_file(tmp_path, text))

    assert summary.counts["work match"]["removed"] == 1
    assert summary.counts["tracker"]["removed"] == 1 and summary.counts["tracker"]["created"] == 1
    assert summary.counts["downloaded task"]["removed"] == 1
    assert WorkMatch.objects.count() == 1
    assert set(Tracker.objects.filter(project__code="site").values_list("name", flat=True)) == {"site-jira"}


@pytest.mark.usefixtures("users")
def test_default_username_selects_the_default_member_and_can_move(tmp_path):
    text = edited(BASE_YAML, "  timezone: Europe/Vienna\n", "  timezone: Europe/Vienna\n  default_username: bob\n")
    organization_update(path=write_file(tmp_path, BASE_YAML))
    assert OrganizationProfile.objects.get(is_default=True).user.username == "alice"

    summary = organization_update(path=write_file(tmp_path, text))

    assert OrganizationProfile.objects.get(is_default=True).user.username == "bob"
    assert summary.counts["organization profile"]["updated"] == 2


@pytest.mark.usefixtures("users")
def test_target_task_may_be_a_downloaded_task(tmp_path):
    organization_update(path=write_file(tmp_path, BASE_YAML))
    make_task(Tracker.objects.get(name="app-github"), code="#7")
    text = edited(BASE_YAML, "target_task: various", "target_task: '#7'")

    organization_update(path=write_file(tmp_path, text))

    assert WorkMatch.objects.get(match_on=MatchOn.ALWAYS_TO_TASK).target_task.code == "#7"


@pytest.mark.usefixtures("users")
def test_dry_run_prints_changes_and_writes_nothing(tmp_path):
    output = _import(tmp_path, dry_run=True)

    assert "would create organization 'test'" in output
    assert "would create tracker 'app/app-github'" in output
    assert "nothing was written" in output
    assert not Organization.objects.exists()
    assert _row_counts() == dict.fromkeys(_row_counts(), 0)

    _import(tmp_path)
    before = _row_counts()
    output = _import(tmp_path, edited(BASE_YAML, "    - code: site", "    - code: web"), dry_run=True)
    assert "would remove project 'site'" in output and "would create project 'web'" in output
    assert _row_counts() == before
    assert set(Project.objects.values_list("code", flat=True)) == {"app", "site"}


@pytest.mark.usefixtures("users")
def test_token_change_counts_as_update_and_the_token_never_shows(tmp_path, monkeypatch):
    _import(tmp_path)
    new_token = "a-brand-new-secret-token-9999"
    monkeypatch.setenv("TEST_GITHUB_TOKEN", new_token)
    monkeypatch.setattr(settings, "ENV", Environment(None))

    dry_output = _import(tmp_path, dry_run=True, verbosity=2)
    summary = organization_update(path=write_file(tmp_path, BASE_YAML))
    output = _import(tmp_path, verbosity=2)

    assert "would update tracker 'app/app-github' (api_token changed)" in dry_output
    assert summary.counts["tracker"]["updated"] == 1
    assert Tracker.objects.get(name="app-github").api_token.reveal() == new_token
    for text in (dry_output, output, repr(summary), str(summary.as_dict())):
        for token in (new_token, GITHUB_TOKEN, KIMAI_TOKEN):
            assert token not in text
    with pytest.raises(CommandError) as caught:
        _import(tmp_path, edited(BASE_YAML, "api_kind: github", "api_kind: 17"))
    assert new_token not in str(caught.value)


@pytest.mark.usefixtures("users")
def test_variables_come_from_the_environment_and_the_env_file(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("TEST_KIMAI_TOKEN=from-the-env-file\nTEST_GITHUB_TOKEN=${TEST_KIMAI_TOKEN}-too\n")
    monkeypatch.delenv("TEST_GITHUB_TOKEN")
    monkeypatch.delenv("TEST_KIMAI_TOKEN")
    monkeypatch.setenv("TEST_LOCATION", "http://127.0.0.1:9/from-environment")
    monkeypatch.setattr(settings, "ENV", Environment(env_file))
    text = edited(BASE_YAML, '"http://127.0.0.1:9/kimai"', '"${TEST_LOCATION}/x?literal=$${NOT_RESOLVED}"')

    organization_update(path=write_file(tmp_path, text))

    kimai = Tracker.objects.get(name="app-kimai")
    assert kimai.api_token.reveal() == "from-the-env-file"
    assert kimai.api_location == "http://127.0.0.1:9/from-environment/x?literal=${NOT_RESOLVED}"
    assert Tracker.objects.get(name="app-github").api_token.reveal() == "from-the-env-file-too"


@pytest.mark.usefixtures("users")
def test_undefined_variable_is_reported_with_every_other_problem_of_the_file(tmp_path):
    text = edited(BASE_YAML, "${TEST_GITHUB_TOKEN}", "${TEST_UNDEFINED_TOKEN}")
    text = edited(text, "api_kind: kimai", "api_kind: kimia")

    error = _problems(tmp_path, text)

    path = tmp_path / "organization.yaml"
    assert [str(problem) for problem in error.problems] == [
        f"{path}:{line_of(text, 'kimia')}: organization.projects[0].trackers[0].api_kind: unknown api_kind 'kimia' "
        "(expected one of: github, gitlab, jira, youtrack, kimai, clockodo)",
        f"{path}:{line_of(text, '${TEST_UNDEFINED_TOKEN}')}: organization.projects[0].trackers[1].api_token: "
        "undefined variable ${TEST_UNDEFINED_TOKEN} (set it in the environment or .env)",
    ]
    assert not Organization.objects.exists()


# (edit of BASE_YAML: old, new; expected key and message fragment; marker on the line the problem is reported at)
VALIDATION_CASES = {
    "unknown key": (
        "  timezone: Europe/Vienna\n",
        "  timezone: Europe/Vienna\n  colour: blue\n",
        "organization.colour: unknown key",
        "colour",
    ),
    "missing key": ("      name: Site\n", "", "organization.projects[1]: missing required key 'name'", "- code: site"),
    "wrong type": ("priority: 100", "priority: high", "work_matches[0].priority: must be a whole number", "high"),
    "wrong type of list": (
        "      trackers:\n        - name: site-gitlab",
        "      trackers: {}\n      x:\n        - name: site-gitlab",
        "projects[1].trackers: must be a list",
        "trackers: {}",
    ),
    "bad regular expression": (
        r"^(?P<task_code>#\\d+).*",
        r"^(?P<task_code>#\\d+.*",
        "text_pattern: bad regular expression",
        "text_pattern",
    ),
    "unknown api_kind": (
        "api_kind: gitlab",
        "api_kind: gitlob",
        "trackers[0].api_kind: unknown api_kind 'gitlob'",
        "gitlob",
    ),
    "unknown match_on": (
        "match_on: pattern_to_task_code",
        "match_on: by_magic",
        "match_on: unknown match_on 'by_magic'",
        "by_magic",
    ),
    "unknown source tracker": (
        "source_work_trackers: app-kimai",
        "source_work_trackers: app-kimia",
        "work_matches[1].source_work_trackers: unknown tracker 'app-kimia'",
        "app-kimia",
    ),
    "unknown user mapping": (
        "user_mapping: kimai.example.com",
        "user_mapping: kimai.other.com",
        "trackers[0].user_mapping: unknown user mapping 'kimai.other.com'",
        "kimai.other.com",
    ),
    "unknown task": (
        "target_task: various",
        "target_task: varius",
        "work_matches[1].target_task: unknown task 'varius'",
        "varius",
    ),
    "unknown username": (
        "    - username: bob",
        "    - username: bobby",
        "organization_profiles[1].username: unknown user 'bobby'",
        "bobby",
    ),
    "unknown username in a user mapping": (
        "          username: alice",
        "          username: alicia",
        "external_usernames_to_username[0].username: unknown user 'alicia'",
        "alicia",
    ),
    "duplicate project code": (
        "    - code: site",
        "    - code: app",
        "projects[1].code: duplicate project code 'app'",
        "- code: app\n      name: Site",
    ),
    "duplicate tracker name": (
        "        - name: app-github",
        "        - name: app-kimai",
        "trackers[1].name: duplicate tracker name 'app-kimai'",
        "- name: app-kimai\n          api_kind: github",
    ),
    "duplicate task code": (
        "            - {title: Various, code: various, estimates: 0}\n",
        "            - {title: Various, code: various, estimates: 0}\n            - {code: various}\n",
        "tasks[1].code: duplicate task code 'various'",
        "{code: various}",
    ),
    "task_code group missing": (
        r"^(?P<task_code>#\\d+).*",
        r"^(#\\d+).*",
        "needs a named group (?P<task_code>…) in exactly one of",
        "- match_on: pattern_to_task_code",
    ),
    "task_code group twice": (
        "              priority: 100\n",
        "              priority: 100\n              breadcrumb_trail_pattern: '(?P<task_code>X-\\d+)'\n",
        "found 2",
        "- match_on: pattern_to_task_code",
    ),
    "always_to_task without target_task": (
        "              target_task: various\n",
        "",
        "work_matches[1]: match_on always_to_task needs a target_task",
        "- match_on: always",
    ),
    "pattern_to_task without pattern": (
        "            - match_on: always\n",
        "            - match_on: pattern_to_task\n",
        "needs a text_pattern or a breadcrumb_trail_pattern",
        "- match_on: pattern_to_task\n",
    ),
    "pattern where it is not used": (
        "              target_task: various\n",
        "              target_task: various\n              text_pattern: x\n",
        "work_matches[1].text_pattern: is not used by match_on always_to_task",
        "text_pattern: x",
    ),
    "invalid timezone": ("Europe/Vienna", "Mars/Olympus_Mons", "organization.timezone: invalid timezone", "Mars/"),
    "default user not a member": (
        "  timezone: Europe/Vienna\n",
        "  timezone: Europe/Vienna\n  default_username: carol\n",
        "default_username: user 'carol' is not one of organization_profiles",
        "default_username",
    ),
    "invalid code": ("  code: test", "  code: test org", "organization.code: invalid code 'test org'", "test org"),
    "duplicate key": (
        "      name: App\n",
        "      name: App\n      name: Again\n",
        "name: duplicate key",
        "name: Again",
    ),
    # YAML syntax errors are reported where the parser notices them: the line after the unclosed bracket.
    "yaml syntax": ("      name: App\n", "      name: [App\n", "invalid YAML", "trackers:\n        - name: app-kimai"),
}


@pytest.mark.usefixtures("users")
@pytest.mark.parametrize("case", VALIDATION_CASES.values(), ids=VALIDATION_CASES.keys())
def test_each_validation_error_names_file_line_and_key(tmp_path, case):
    old, new, expected, marker = case
    text = edited(BASE_YAML, old, new)

    error = _problems(tmp_path, text)

    path = tmp_path / "organization.yaml"
    matching = [str(problem) for problem in error.problems if expected in str(problem)]
    assert matching, f"{expected!r} not in {error}"
    assert matching[0].startswith(f"{path}:{line_of(text, marker)}: "), matching[0]
    assert not Organization.objects.exists()


@pytest.mark.usefixtures("users")
def test_all_problems_are_reported_at_once_in_file_order(tmp_path):
    text = edited(BASE_YAML, "api_kind: gitlab", "api_kind: gitlob")
    text = edited(text, "Europe/Vienna", "Nowhere/Town")
    text = edited(text, "priority: 100", "priority: [1]")

    error = _problems(tmp_path, text)

    assert [problem.line for problem in error.problems] == [
        line_of(text, "Nowhere/Town"),
        line_of(text, "priority: [1]"),
        line_of(text, "gitlob"),
    ]
    assert str(error).startswith("3 problems:\n")


@pytest.mark.usefixtures("users")
def test_command_turns_problems_into_a_command_error_and_writes_nothing(tmp_path):
    _import(tmp_path)
    before = _row_counts()
    text = edited(BASE_YAML, "      name: App\n", "      name: Renamed app\n")
    text = edited(text, "api_kind: gitlab", "api_kind: gitlob")  # in the last project

    with pytest.raises(CommandError, match=r"organization\.yaml:\d+: .*unknown api_kind 'gitlob'"):
        _import(tmp_path, text)

    assert _row_counts() == before
    assert Project.objects.get(code="app").name == "App"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("users")
def test_an_error_while_applying_rolls_back_everything(tmp_path):
    # The database refuses the last project: everything before it in the same import must be rolled back.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE siisurit_project ADD CONSTRAINT test_refuse_doomed CHECK (code <> 'doomed')")
    try:
        _import(tmp_path)
        before = _row_counts()
        text = edited(BASE_YAML, "      name: App\n", "      name: Renamed app\n")
        text = edited(text, "    - code: site", "    - code: doomed")
        with pytest.raises(Exception, match="test_refuse_doomed"):
            _import(tmp_path, text)
        assert _row_counts() == before
        assert Project.objects.get(code="app").name == "App"
        assert set(Project.objects.values_list("code", flat=True)) == {"app", "site"}
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE siisurit_project DROP CONSTRAINT test_refuse_doomed")


def test_command_in_a_subprocess_exits_non_zero_with_the_problem_on_stderr(tmp_path):
    path = write_file(tmp_path, edited(BASE_YAML, "api_kind: gitlab", "api_kind: gitlob"))
    environment = {**os.environ, "SII_POSTGRES_DATABASE": connection.settings_dict["NAME"]}

    result = subprocess.run(
        [sys.executable, "manage.py", "update_organization", str(path)],
        cwd=_REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    line = line_of(BASE_YAML, "api_kind: gitlab")
    assert f"{path}:{line}: organization.projects[1].trackers[0].api_kind: unknown api_kind 'gitlob'" in result.stderr
    assert GITHUB_TOKEN not in result.stderr + result.stdout


def test_help_explains_every_option_with_its_default():
    help_text = UpdateOrganizationCommand().create_parser("manage.py", "update_organization").format_help()
    assert "--dry-run" in help_text and "default: off" in help_text


def test_file_not_found_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"missing\.yaml: file not found"):
        call_command("update_organization", str(tmp_path / "missing.yaml"))


def test_demo_organization_file_imports_and_is_idempotent(monkeypatch):
    for name in ("GITHUB", "KIMAI", "YOUTRACK", "CLOCKODO"):
        monkeypatch.setenv(f"DEMO_{name}_LOCATION", f"http://127.0.0.1:9/{name.lower()}")
        monkeypatch.setenv(f"DEMO_{name}_TOKEN", f"demo-{name.lower()}-token")
    monkeypatch.setenv("DEMO_CLOCKODO_USERNAME", "demo@example.com")
    monkeypatch.setattr(settings, "ENV", Environment(None))
    for username in ("alice", "bob", "carol", "dave"):
        make_user(username)
    path = _REPO / "examples" / "demo-organization.yaml"

    organization_update(path=path)

    organization = Organization.objects.get(code="demo")
    assert organization.timezone == "Europe/Vienna"
    trackers = Tracker.objects.filter(project__organization=organization)
    assert sorted(trackers.values_list("project__code", "api_kind")) == [
        ("mobile-app", "clockodo"),
        ("mobile-app", "youtrack"),
        ("webshop", "github"),
        ("webshop", "kimai"),
    ]
    assert UserMapping.objects.filter(organization=organization, fallback="default").count() == 1
    assert WorkMatch.objects.filter(tracker__project__organization=organization).count() == 5
    assert not organization_update(path=path).has_changes
