"""Hostile input and privileged misuse (issue 15): each attack as it was tried, and what the system does now.

Tokens stay with the host they were entered for; API base URLs stay bases; variables expand only in secret and
address fields; patterns cannot hang a worker; logins lock out; bad bytes, huge files and spreadsheet formulas give
domain errors with file and line. Trackers are loopback replay servers, the database is the real PostgreSQL, the
matching job runs on a real worker. docs/reliability.md lists these tests with their figures.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from siisurit.admin import TrackerAdminForm, WorkMatchAdminForm
from siisurit.demo.trackers import demo_tracker_variables
from siisurit.downloads.service import tracker_download
from siisurit.environment import Environment
from siisurit.errors import PermanentError
from siisurit.matching import service as matching_service
from siisurit.models import MatchOn, Organization, Tracker, User, WorkEntry, WorkEntryMatch
from siisurit.organization_config import OrganizationConfigError, organization_update
from siisurit.organization_config.users_csv import UsersCsvError, users_import
from tests.contracts.replay import Recording, ReplayServer, json_response
from tests.factories import (
    make_organization,
    make_project,
    make_task,
    make_tracker,
    make_user,
    make_work_entry,
    make_work_match,
)
from tests.organization_files import BASE_YAML, KIMAI_TOKEN, edited, line_of, token_environment, write_file

_ = token_environment  # a fixture, used by name
_REPO = Path(__file__).resolve().parent.parent
ATTACKER_TOKEN = "ghp_stored-token-of-the-real-host-0042"


@pytest.fixture
def users(db) -> None:
    make_user("alice")
    make_user("bob")


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(OrganizationConfigError) as caught:
        organization_update(path=write_file(tmp_path, text))
    return [str(problem) for problem in caught.value.problems]


def _tracker_form(tracker: Tracker, **changes: str) -> TrackerAdminForm:
    data = {
        "project": str(tracker.project_id),
        "name": tracker.name,
        "api_kind": tracker.api_kind,
        "api_location": tracker.api_location,
        "api_base_url": tracker.api_base_url,
        "api_token": "",
        "api_username": tracker.api_username,
        "api_custom_assignee_fields": "",
        "user_mapping": "",
        **changes,
    }
    return TrackerAdminForm(data=data, instance=Tracker.objects.get(id=tracker.id))


def _github_issue(number: int, title: str) -> dict:
    return {
        "id": 1000 + number,
        "number": number,
        "title": title,
        "state": "open",
        "html_url": f"https://github.com/o/r/issues/{number}",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00Z",
        "closed_at": None,
        "assignees": [],
    }


def _github_tracker(server: ReplayServer, **fields: str) -> Tracker:
    fields.setdefault("api_base_url", f"{server.base_url}/api/v3")
    return make_tracker(
        make_project(), api_kind="github", api_location="https://github.com/o/r", api_token=ATTACKER_TOKEN, **fields
    )


def _download_error(tracker: Tracker) -> str:
    with pytest.raises(PermanentError) as caught:
        tracker_download(tracker_id=str(tracker.id), full=True)
    return str(caught.value)


# --- 1. A stored token stays with its host --------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_refuses_to_send_a_kept_token_to_another_host():
    with ReplayServer() as attacker:
        attacker.route("/repos/o/r/issues", json_response(200, []))
        tracker = make_tracker(
            make_project(), api_kind="github", api_location="https://github.com/o/r", api_token=ATTACKER_TOKEN
        )

        form = _tracker_form(tracker, api_base_url=attacker.base_url)

        assert not form.is_valid()
        assert "enter the token for http://127.0.0.1:" in str(form.errors["api_token"])
        assert Tracker.objects.get(id=tracker.id).api_base_url == ""
        # Nothing reached the other host: the tracker still downloads from GitHub (refused here: no internet).
        assert attacker.requests == []

        form = _tracker_form(tracker, api_base_url=attacker.base_url, api_token="token-for-the-new-host")
        assert form.is_valid(), form.errors
        form.save()
        tracker_download(tracker_id=str(tracker.id), full=True)
        assert [request.headers["authorization"] for request in attacker.requests] == ["Bearer token-for-the-new-host"]


@pytest.mark.django_db
def test_the_admin_change_page_refuses_the_move_and_keeps_the_row(client):
    tracker = make_tracker(
        make_project(), api_kind="github", api_location="https://github.com/o/r", api_token=ATTACKER_TOKEN
    )
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    page = client.get(f"/admin/siisurit/tracker/{tracker.id}/change/")
    data = {name: ("" if value is None else value) for name, value in page.context["adminform"].form.initial.items()}
    data.update({"project": tracker.project_id, "api_token": "", "api_custom_assignee_fields": "[]"})

    response = client.post(
        f"/admin/siisurit/tracker/{tracker.id}/change/", {**data, "api_base_url": "http://127.0.0.1:5555/api"}
    )

    assert response.status_code == 200
    assert "enter the token for http://127.0.0.1:5555 again" in response.content.decode()
    stored = Tracker.objects.get(id=tracker.id)
    assert (stored.api_base_url, stored.api_token.reveal()) == ("", ATTACKER_TOKEN)


@pytest.mark.django_db
def test_admin_keeps_the_token_when_the_host_stays():
    tracker = make_tracker(
        make_project(), api_kind="github", api_location="https://github.com/o/r", api_token=ATTACKER_TOKEN
    )

    form = _tracker_form(tracker, api_location="git@github.com:o/other.git")

    assert form.is_valid(), form.errors
    assert form.save().api_token.reveal() == ATTACKER_TOKEN


@pytest.mark.usefixtures("users", "token_environment")
def test_update_organization_refuses_to_move_a_token_to_another_host(tmp_path, monkeypatch):
    organization_update(path=write_file(tmp_path, BASE_YAML))
    moved = edited(BASE_YAML, '"http://127.0.0.1:9/kimai"', '"http://127.0.0.1:5555/kimai"')

    problems = _problems(tmp_path, moved)

    assert problems == [
        f"{tmp_path / 'organization.yaml'}:{line_of(moved, '- name: app-kimai')}: "
        "organization.projects[0].trackers[0].api_location: moves tracker 'app-kimai' from http://127.0.0.1:9 to "
        "http://127.0.0.1:5555 with the same api_token: a token is only sent to the host it was entered for; "
        "give the token of the new host"
    ]
    assert Tracker.objects.get(name="app-kimai").api_location == "http://127.0.0.1:9/kimai"
    assert KIMAI_TOKEN not in "\n".join(problems)

    monkeypatch.setenv("TEST_KIMAI_TOKEN", "the-new-hosts-token")
    organization_update(path=write_file(tmp_path, moved))
    assert Tracker.objects.get(name="app-kimai").api_token.reveal() == "the-new-hosts-token"


# --- 2. api_base_url is a base, requests stay under it, foreign bodies are not quoted ---------------------------


@pytest.mark.usefixtures("users", "token_environment")
def test_update_organization_refuses_an_api_base_url_with_a_query(tmp_path):
    text = edited(
        BASE_YAML, "          user_mapping: kimai", '          api_base_url: "http://127.0.0.1:5555/metrics?x="\n'
        "          user_mapping: kimai",
    )  # fmt: skip

    problems = _problems(tmp_path, text)

    assert problems == [
        f"{tmp_path / 'organization.yaml'}:{line_of(text, 'api_base_url')}: "
        "organization.projects[0].trackers[0].api_base_url: must be a base URL without a query (?…) or fragment (#…)"
    ]
    assert not Organization.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "api_base_url",
    ["http://127.0.0.1:5555/metrics?x=", "http://127.0.0.1:5555/api#x", "http://user:pw@127.0.0.1/api",
     "http://127.0.0.1:5555/api/../metrics", "http://tracker.example.com/api", "file:///etc/passwd"],
)  # fmt: skip
def test_admin_refuses_an_api_base_url_that_is_no_base(api_base_url):
    tracker = make_tracker(make_project(), api_kind="github", api_location="https://github.com/o/r")

    form = _tracker_form(tracker, api_base_url=api_base_url, api_token="a-new-token")

    assert not form.is_valid()
    assert "api_base_url" in form.errors


@pytest.mark.django_db
def test_a_stored_api_base_url_with_a_query_fails_before_any_request():
    with ReplayServer() as server:
        tracker = _github_tracker(server, api_base_url=f"{server.base_url}/metrics?x=")

        message = _download_error(tracker)

        assert "api_base_url must be a base URL without a query" in message
        assert server.requests == []


@pytest.mark.django_db
def test_requests_stay_under_the_api_base_url_even_when_the_tracker_links_elsewhere():
    metrics = Recording(200, (("Content-Type", "text/plain"),), b"# HELP flower_events_total\n" * 100)
    with ReplayServer() as server:
        next_link = f'<{server.base_url}/metrics?page=2>; rel="next"'
        server.route("/api/v3/repos/o/r/issues", json_response(200, [_github_issue(1, "ok")], [("Link", next_link)]))
        server.route("/metrics", metrics, query={"page": "2"})
        tracker = _github_tracker(server)

        message = _download_error(tracker)

        assert "requests stay under api_base_url" in message
        assert "flower_events_total" not in message
        assert server.paths_requested() == [
            "/api/v3/repos/o/r/issues?direction=asc&per_page=100&sort=created&state=all"
        ]


@pytest.mark.django_db
def test_an_error_quotes_at_most_a_short_sanitised_snippet_of_a_foreign_body():
    page = b"<html>\x1b[31m" + b"x" * 100 + b" flower_secret_metric 42 " + b"y" * 5000 + b"</html>"
    with ReplayServer() as server:
        server.route("/api/v3/repos/o/r/issues", Recording(404, (("Content-Type", "text/html"),), page))
        tracker = _github_tracker(server)

        message = _download_error(tracker)

    assert "HTTP 404" in message
    assert "flower_secret_metric" not in message
    assert "\x1b" not in message
    assert "x" * 61 not in message
    assert len(message) < 400, message


# --- 3. Variables expand only in secret and address fields, never SII_* ---------------------------------------


@pytest.mark.usefixtures("users", "token_environment")
def test_a_variable_in_a_name_is_refused_and_its_value_stored_nowhere(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_DB_PASSWORD", "the-database-password-1234")
    text = edited(BASE_YAML, "name: Test LLC", 'name: "leak ${MY_DB_PASSWORD}"')

    problems = _problems(tmp_path, text)

    assert problems == [
        f"{tmp_path / 'organization.yaml'}:{line_of(text, 'leak')}: organization.name: ${{MY_DB_PASSWORD}}: variables "
        "are only expanded in api_base_url, api_location, api_token, api_username (write $${…} for the literal text)"
    ]
    assert not Organization.objects.exists()


@pytest.mark.usefixtures("users", "token_environment")
def test_a_literal_dollar_brace_in_a_name_is_written_with_two_dollars(tmp_path):
    organization_update(path=write_file(tmp_path, edited(BASE_YAML, "name: Test LLC", 'name: "Cost $${X}"')))

    assert Organization.objects.get(code="test").name == "Cost ${X}"


@pytest.mark.usefixtures("users", "token_environment")
def test_variables_of_the_servers_own_configuration_are_refused(tmp_path):
    text = edited(BASE_YAML, "${TEST_KIMAI_TOKEN}", "${SII_POSTGRES_PASSWORD}")

    problems = _problems(tmp_path, text)

    assert problems == [
        f"{tmp_path / 'organization.yaml'}:{line_of(text, 'SII_POSTGRES')}: "
        "organization.projects[0].trackers[0].api_token: ${SII_POSTGRES_PASSWORD} is a variable of Siisurit's own "
        "configuration: organization files cannot read SII_* variables (use another name)"
    ]


@pytest.mark.django_db
def test_the_demo_organization_imports_as_its_comment_says(monkeypatch):
    """Issue 11: `update_organization examples/demo-organization.yaml` works without any variable set."""
    for name in demo_tracker_variables():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings, "ENV", Environment(None))
    call_command("make_users", str(_REPO / "examples" / "demo-users.csv"), stdout=io.StringIO())

    call_command("update_organization", str(_REPO / "examples" / "demo-organization.yaml"), stdout=io.StringIO())

    variables = demo_tracker_variables()
    github = Tracker.objects.get(name="webshop-github")
    assert github.api_location == variables["DEMO_GITHUB_LOCATION"]
    assert github.api_token.reveal() == variables["DEMO_GITHUB_TOKEN"]
    assert Tracker.objects.get(name="mobile-clockodo").api_username == variables["DEMO_CLOCKODO_USERNAME"]


# --- 4. Catastrophic patterns ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("users", "token_environment")
def test_a_pattern_known_to_backtrack_badly_is_refused_at_import(tmp_path):
    text = edited(BASE_YAML, r'"^(?P<task_code>#\\d+).*"', '"^(?P<task_code>#(a+)+$)"')

    problems = _problems(tmp_path, text)

    assert len(problems) == 1
    assert problems[0].startswith(
        f"{tmp_path / 'organization.yaml'}:{line_of(text, '(a+)+')}: "
        "organization.projects[0].trackers[1].work_matches[0].text_pattern: '^(?P<task_code>#(a+)+$)' repeats a "
        "repetition (like (a+)+), which can take exponential time"
    )


@pytest.mark.django_db
def test_the_admin_refuses_a_pattern_known_to_backtrack_badly():
    tracker = make_tracker(make_project(), api_kind="github")
    data = {
        "tracker": str(tracker.id), "match_on": MatchOn.PATTERN_TO_TASK, "priority": "0", "position": "0",
        "source_work_trackers": [str(tracker.id)], "target_task": str(make_task(tracker).id),
        "text_pattern": "(a+)+$", "breadcrumb_trail_pattern": "",
    }  # fmt: skip

    form = WorkMatchAdminForm(data=data)

    assert not form.is_valid()
    assert "repeats a repetition" in str(form.errors["text_pattern"])
    assert WorkMatchAdminForm(data={**data, "text_pattern": "(a++)+$"}).is_valid()


@pytest.mark.django_db
def test_every_sql_statement_of_a_matching_job_is_bounded_by_the_statement_timeout(settings, monkeypatch):
    """Any SQL of the matching (SQL-side pattern decisions too) stops at SII_MATCH_STATEMENT_TIMEOUT_IN_SECONDS."""
    settings.SII_MATCH_STATEMENT_TIMEOUT_IN_SECONDS = 1
    project = make_project(make_organization(code="acme"), code="alpha")

    def slow_matching(rules, progress=None):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(30)")

    monkeypatch.setattr(matching_service, "project_entries_match", slow_matching)
    started = time.monotonic()

    with pytest.raises(PermanentError, match=r"matching project acme/alpha stopped: one SQL statement ran longer "):
        matching_service.project_match(project_id=str(project.id))

    assert time.monotonic() - started < 20


def _catastrophic_project(code: str, *, catastrophic: bool) -> tuple[WorkEntry, WorkEntry]:
    """A project whose first rule (line 12 of its file) backtracks without end on 'a' * 30 + '!' if `catastrophic`."""
    project = make_project(Organization.objects.get(code="acme"), code=code)
    tasks = make_tracker(project, name=f"{code}-github", api_kind="github")
    work = make_tracker(project, name=f"{code}-kimai", api_kind="kimai")
    various = make_task(tasks, code="various")
    meetings = make_task(tasks, code="meetings")
    pattern = "(a|a)*$" if catastrophic else "^a+!$"
    make_work_match(
        tasks, MatchOn.PATTERN_TO_TASK, [work], target_task=meetings, text_pattern=pattern, priority=10,
        position=0, source_line=12,
    )  # fmt: skip
    make_work_match(
        tasks, MatchOn.PATTERN_TO_TASK, [work], target_task=various, text_pattern="^plain", priority=5, position=1
    )
    hostile = make_work_entry(work, text="a" * 30 + "!")
    plain = make_work_entry(work, text="plain work")
    return hostile, plain


@pytest.mark.timeout(300)
def test_a_catastrophic_pattern_stops_its_rule_and_the_worker_matches_everything_else(celery_worker_thread):
    make_organization(code="acme")
    hostile, plain = _catastrophic_project("alpha", catastrophic=True)
    other_hostile, other_plain = _catastrophic_project("beta", catastrophic=False)
    stdout, stderr = io.StringIO(), io.StringIO()
    started = time.monotonic()

    with pytest.raises(CommandError):
        call_command("match_project", "acme", "--timeout", "240", stdout=stdout, stderr=stderr)

    seconds = time.monotonic() - started
    output = stdout.getvalue() + stderr.getvalue()
    assert "work match #1 of tracker 'alpha-github', line 12 of the organization file: text_pattern '(a|a)*$' took " \
        "longer than 250 ms on a work entry; the rule was skipped" in output  # fmt: skip
    assert "match acme/beta: done" in output
    entries = {entry.id: None for entry in WorkEntry.objects.all()}
    entries |= {match.work_entry_id: match.task.code for match in WorkEntryMatch.objects.select_related("task")}
    assert entries == {hostile.id: None, plain.id: "various", other_hostile.id: "meetings", other_plain.id: "various"}
    print(f"\nmatch_project with a catastrophic pattern ended after {seconds:.1f} s")


@pytest.mark.django_db
@pytest.mark.timeout(120)
def test_explain_work_entry_ends_on_a_catastrophic_pattern_and_says_why():
    make_organization(code="acme")
    hostile, _ = _catastrophic_project("alpha", catastrophic=True)
    stdout = io.StringIO()

    call_command("explain_work_entry", "--id", str(hostile.id), stdout=stdout)

    assert "the rule was stopped: text_pattern '(a|a)*$' took longer than 250 ms" in stdout.getvalue()


# --- 5. Login lockout ------------------------------------------------------------------------------------------


def _admin_login(session: requests.Session, base_url: str, username: str, password: str) -> requests.Response:
    login_url = f"{base_url}/admin/login/"
    session.get(login_url, timeout=30)
    data = {"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    return session.post(f"{login_url}?next=/admin/", data=data, headers={"Referer": login_url}, timeout=30)


@pytest.mark.django_db(transaction=True)
def test_wrong_passwords_lock_out_the_user_at_that_address_but_not_other_users(live_server):
    make_user("root", is_staff=True, is_superuser=True, password="the-right-password-1")
    make_user("carol", is_staff=True, password="carols-right-password-1")
    attacker = requests.Session()
    started = time.monotonic()

    statuses = [_admin_login(attacker, live_server.url, "root", f"guess-{n}").status_code for n in range(40)]
    right = _admin_login(attacker, live_server.url, "root", "the-right-password-1")

    seconds = time.monotonic() - started
    assert statuses[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(statuses[settings.AXES_FAILURE_LIMIT :]) == {429}
    assert right.status_code == 429
    assert "sessionid" not in attacker.cookies
    other = requests.Session()
    assert _admin_login(other, live_server.url, "carol", "carols-right-password-1").url.endswith("/admin/")
    print(f"\n40 wrong passwords and the right one in {seconds:.1f} s: locked after {settings.AXES_FAILURE_LIMIT}")


def test_flower_refuses_short_passwords_outside_the_local_environment():
    from workers.flower_auth import FlowerCredentialsError, flower_credentials

    assert flower_credentials("admin:admin", require_strong=False) == ["admin:admin"]
    with pytest.raises(FlowerCredentialsError, match="at least 16 characters") as caught:
        flower_credentials("ops:a-long-enough-password,admin:admin", require_strong=True)
    assert "admin:admin" not in str(caught.value)


# --- 6. NUL bytes and absurdly deep JSON -----------------------------------------------------------------------


@pytest.mark.usefixtures("users", "token_environment")
def test_a_nul_byte_in_a_yaml_value_is_a_problem_with_its_line(tmp_path):
    text = edited(BASE_YAML, "name: App", 'name: "App\\0"')

    problems = _problems(tmp_path, text)

    assert problems == [
        f"{tmp_path / 'organization.yaml'}:{line_of(text, 'App')}: organization.projects[0].name: contains a NUL "
        "character (\\0), which cannot be stored"
    ]


@pytest.mark.django_db
def test_absurdly_deep_yaml_is_a_problem_not_a_recursion_error(tmp_path):
    path = write_file(tmp_path, "organization: " + "[" * 100_000 + "]" * 100_000 + "\n")

    with pytest.raises(CommandError, match=r"organization\.yaml: invalid YAML: nested too deeply"):
        call_command("update_organization", str(path), stdout=io.StringIO())


@pytest.mark.django_db
def test_a_nul_byte_in_a_csv_cell_is_a_problem_with_its_line(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("username,name\nalice,Alice\nbob,Bob\x00by\n", encoding="utf-8")

    with pytest.raises(UsersCsvError) as caught:
        users_import(path=path)

    assert caught.value.problems == [f"{path}:3: column 'name' contains a NUL character"]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_a_nul_in_a_tracker_title_names_tracker_and_item():
    with ReplayServer() as server:
        issues = [_github_issue(1, "fine"), _github_issue(2, "bad\u0000title")]
        server.route("/api/v3/repos/o/r/issues", json_response(200, issues))
        tracker = _github_tracker(server)

        message = _download_error(tracker)

    assert message.startswith(f"github tracker {tracker.name!r}: malformed item '1002' in ")
    assert message.endswith("title contains a NUL character")
    assert not tracker.tasks.exists()


@pytest.mark.django_db
def test_absurdly_deep_json_from_a_tracker_is_a_permanent_error():
    deep = b"[" * 100_000 + b"]" * 100_000
    with ReplayServer() as server:
        server.route("/api/v3/repos/o/r/issues", Recording(200, (("Content-Type", "application/json"),), deep))
        tracker = _github_tracker(server)

        message = _download_error(tracker)

    assert message == f"github tracker {tracker.name!r}: JSON nested too deeply from /api/v3/repos/o/r/issues"


# --- 7. Size limits and regular files ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["update_organization", "make_users"])
def test_devices_and_pipes_are_refused_before_reading(command, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo), str(tmp_path)):
        started = time.monotonic()
        with pytest.raises(CommandError, match="not a regular file"):
            call_command(command, path, stdout=io.StringIO())
        assert time.monotonic() - started < 10


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["update_organization", "make_users"])
def test_files_above_the_size_limit_are_refused_before_parsing(command, tmp_path):
    path = tmp_path / "huge"
    path.write_bytes(b"# comment\n" * (settings.SII_INPUT_FILE_MAX_BYTES // 10 + 1))
    started = time.monotonic()

    with pytest.raises(CommandError, match=r"file too large \(\d+ bytes, at most 5242880; "):
        call_command(command, str(path), stdout=io.StringIO())

    seconds = time.monotonic() - started
    assert seconds < 5
    print(f"\n{path.stat().st_size} bytes refused in {seconds * 1000:.0f} ms")


# --- 8. Formula cells in the users CSV ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_formula_cells_in_name_columns_are_refused_with_their_lines(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text(
        "username,name,first_name,last_name\n"
        'alice,"=HYPERLINK(""http://evil.example"",""x"")",,\n'
        "bob,,+cmd|' /C calc'!A0,\n"
        "carol,,,@SUM(1+1)\n"
        "dave,Dave Davis,,\n"
        "-eve,,,\n",
        encoding="utf-8",
    )

    with pytest.raises(UsersCsvError) as caught:
        users_import(path=path)

    assert caught.value.problems == [
        f"{path}:2: column 'name' starts with '=', which spreadsheets run as a formula: refused",
        f"{path}:3: column 'first_name' starts with '+', which spreadsheets run as a formula: refused",
        f"{path}:4: column 'last_name' starts with '@', which spreadsheets run as a formula: refused",
        f"{path}:6: column 'username' starts with '-', which spreadsheets run as a formula: refused",
    ]
    assert not User.objects.exists()
