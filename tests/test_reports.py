"""Report views: what they contain, how make_reports/clear_reports manage them, and how migrations keep working."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_migrate, pre_migrate

from siisurit.errors import TransientError
from siisurit.models import ApiKind, MatchOn, TaskAssignee, WorkEntry
from siisurit.reports import service
from siisurit.reports.service import existing_report_views, reports_clear, reports_make
from siisurit.reports.views import VIEW_NAMES, report_views
from tests.factories import (
    make_organization,
    make_project,
    make_task,
    make_tracker,
    make_user,
    make_work_entry,
    make_work_match,
)

GRAFANA_QUERY = (
    "select date_trunc('month', started_at), username, sum(duration_in_hours) from report.work group by 1, 2"
)


def build_reported_project(seed: int = 7) -> dict[str, Any]:
    """An organization with one project: a GitHub tracker with tasks and a Kimai tracker with matched and
    unmatched work of two members and one unmapped external user, including zero-length entries."""
    organization = make_organization(code="acme", name="Acme LLC")
    alice = make_user("alice", name="Alice Adams")
    bob = make_user("bob")
    project = make_project(organization, code="app", name="Example app")
    github = make_tracker(project, name="example-github", api_kind=ApiKind.GITHUB)
    kimai = make_tracker(project, name="example-kimai", api_kind=ApiKind.KIMAI)
    tasks = [
        make_task(github, code=f"#{number}", state="open", estimate_hours=Decimal("2.50") if number % 2 else None)
        for number in range(1, 6)
    ]
    various = make_task(github, code="various", title="Various", is_declared=True, estimate_hours=Decimal(0))
    tasks.append(various)
    by_code = make_work_match(
        github, MatchOn.PATTERN_TO_TASK_CODE, [kimai], priority=100, text_pattern=r"^(?P<task_code>#\d+)"
    )
    always = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=1, target_task=various, position=1)
    TaskAssignee.objects.create(task=tasks[0], external_username="alice-gh", user=alice)
    TaskAssignee.objects.create(task=tasks[0], external_username="bob-gh", user=bob)
    TaskAssignee.objects.create(task=tasks[1], external_username="stranger-gh", user=None)
    rng = random.Random(seed)
    people = [("a.adams", alice), ("bob", bob), ("stranger", None)]
    for number in range(60):
        external_username, user = rng.choice(people)
        task = rng.choice([*tasks, None, None])
        work_match = None if task is None else (always if task is various else by_code)
        make_work_entry(
            kimai,
            external_id=str(number),
            external_username=external_username,
            user=user,
            started_at=datetime(2024, 1, 10, 9, tzinfo=UTC) + timedelta(days=rng.randrange(80)),
            duration_seconds=rng.choice([0, 900, 1800, 3600, 5400, 7200, 12345]),
            text=f"{task.code if task else 'meeting'} work",
            task=task,
            work_match=work_match,
            matched_at=datetime(2024, 4, 1, tzinfo=UTC),
        )
    return {"organization": organization, "tasks": tasks, "alice": alice, "bob": bob}


def fetch(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def view_columns(name: str) -> list[str]:
    rows = fetch(
        "select column_name from information_schema.columns where table_schema = 'report' and table_name = %s "
        "order by ordinal_position",
        [name],
    )
    return [column for (column,) in rows]


def hours(seconds: int) -> Decimal:
    return Decimal(seconds) / 3600


def assert_hours_equal(actual: Decimal, expected: Decimal) -> None:
    assert abs(Decimal(actual) - expected) < Decimal("1e-12"), (actual, expected)


@pytest.mark.django_db
def test_matched_and_unmatched_work_add_up_to_all_work():
    build_reported_project()
    reports_make()
    total_seconds = sum(WorkEntry.objects.values_list("duration_seconds", flat=True))
    matched_seconds = sum(WorkEntry.objects.filter(match__isnull=False).values_list("duration_seconds", flat=True))
    [(work_hours, work_rows)] = fetch("select sum(duration_in_hours), count(*) from report.work")
    [(unmatched_hours, unmatched_rows)] = fetch("select sum(duration_in_hours), count(*) from report.unmatched_work")
    assert work_rows + unmatched_rows == WorkEntry.objects.count() == 60
    assert unmatched_rows == WorkEntry.objects.filter(match__isnull=True).count() > 0
    assert_hours_equal(work_hours, hours(matched_seconds))
    assert_hours_equal(work_hours + unmatched_hours, hours(total_seconds))


@pytest.mark.django_db
def test_work_rows_name_task_project_organization_member_and_rule():
    data = build_reported_project()
    reports_make()
    entry = (
        WorkEntry.objects.filter(match__isnull=False, user=data["alice"])
        .exclude(match__task__code="various")
        .select_related("match__task")
        .first()
    )
    task = entry.match.task
    [row] = fetch(
        "select organization_code, organization_name, project_code, project_name, tracker_name, task_code, "
        "task_title, task_state, task_url, task_estimate_in_hours, work_tracker_name, username, member_name, "
        "started_at, duration_in_hours, matched_rule_kind from report.work where work_entry_id = %s",
        [entry.id],
    )
    assert row[:8] == ("acme", "Acme LLC", "app", "Example app", "example-github", task.code, task.title, "open")
    assert row[8] == task.url
    assert row[9] == task.estimate_hours
    assert row[10:13] == ("example-kimai", "alice", "Alice Adams")
    assert row[13] == entry.started_at
    assert_hours_equal(row[14], hours(entry.duration_seconds))
    assert row[15] == "pattern_to_task_code"
    # A member without a full name is shown by username; unmapped work has no username.
    assert fetch("select distinct member_name from report.work where username = 'bob'") == [("bob",)]
    assert fetch("select count(*) from report.work where username is null and external_username = 'stranger'")[0][0]


@pytest.mark.django_db
def test_task_view_lists_every_task_with_its_matched_hours():
    data = build_reported_project()
    reports_make()
    rows = dict(fetch("select task_code, work_in_hours from report.task"))
    assert set(rows) == {task.code for task in data["tasks"]}
    for task in data["tasks"]:
        seconds = sum(WorkEntry.objects.filter(match__task=task).values_list("duration_seconds", flat=True))
        assert_hours_equal(rows[task.code], hours(seconds))
    [(estimate, is_declared)] = fetch(
        "select task_estimate_in_hours, task_is_declared from report.task where task_code = 'various'"
    )
    assert (estimate, is_declared) == (Decimal(0), True)


@pytest.mark.django_db
def test_contribution_has_hours_per_member_and_task_only_where_positive():
    data = build_reported_project()
    various = data["tasks"][-1]
    # Only zero-length work of a new member on a task: no contribution row for them.
    carol = make_user("carol", name="Carol Clark")
    make_work_entry(various.tracker.project.trackers.get(name="example-kimai"), user=carol, duration_seconds=0,
                    task=various)  # fmt: skip
    reports_make()
    rows = fetch("select task_code, username, work_in_hours, work_entry_count from report.contribution")
    assert rows
    assert all(work_in_hours > 0 for _, _, work_in_hours, _ in rows)
    assert not [row for row in rows if row[1] == "carol"]
    for task_code, username, work_in_hours, entry_count in rows:
        entries = WorkEntry.objects.filter(match__task__code=task_code, user__username=username)
        if username is None:
            entries = WorkEntry.objects.filter(match__task__code=task_code, user__isnull=True)
        assert entry_count == entries.count()
        assert_hours_equal(work_in_hours, hours(sum(entries.values_list("duration_seconds", flat=True))))
    [(contribution_hours,)] = fetch("select sum(work_in_hours) from report.contribution")
    [(work_hours,)] = fetch("select sum(duration_in_hours) from report.work")
    assert_hours_equal(contribution_hours, work_hours)


@pytest.mark.django_db
def test_assignee_view_has_a_row_per_task_and_assignee():
    build_reported_project()
    reports_make()
    rows = fetch("select task_code, assignee_external_username, username, member_name from report.assignee order by 2")
    assert rows == [
        ("#1", "alice-gh", "alice", "Alice Adams"),
        ("#1", "bob-gh", "bob", "bob"),
        ("#2", "stranger-gh", None, None),
    ]


@pytest.mark.django_db
def test_grafana_query_sums_hours_per_month_and_member():
    build_reported_project()
    reports_make()
    rows = fetch(GRAFANA_QUERY)
    assert {month.day for month, _, _ in rows} == {1}
    assert {month.month for month, _, _ in rows} <= {1, 2, 3, 4}
    [(work_hours,)] = fetch("select sum(duration_in_hours) from report.work")
    assert_hours_equal(sum(total for _, _, total in rows), work_hours)


@pytest.mark.django_db
def test_views_have_documented_bi_friendly_columns():
    reports_make()
    assert existing_report_views() == sorted(VIEW_NAMES)
    work_columns = view_columns("work")
    for column in ("organization_code", "project_code", "tracker_name", "task_code", "task_title", "task_state",
                   "task_url", "task_estimate_in_hours", "username", "member_name", "started_at",
                   "duration_in_hours", "matched_rule_kind"):  # fmt: skip
        assert column in work_columns
    types = dict(
        fetch(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'report' and table_name = 'work'"
        )
    )
    assert types["started_at"] == "timestamp with time zone"
    assert types["duration_in_hours"] == "numeric"
    text = (settings.BASE_DIR / "docs" / "reports.md").read_text(encoding="utf-8")
    for name in VIEW_NAMES:
        assert f"report.{name}" in text
        for column in view_columns(name):
            assert f"`{column}`" in text, f"report.{name}.{column} is not documented"


@pytest.mark.django_db
def test_make_reports_keeps_unchanged_views_and_force_replaces_them():
    reports_clear()
    assert reports_make()["created"] == list(VIEW_NAMES)
    assert reports_make()["unchanged"] == list(VIEW_NAMES)
    assert reports_make(force=True)["replaced"] == list(VIEW_NAMES)


@pytest.mark.django_db
def test_view_with_incompatible_columns_is_recreated_with_its_grants():
    reports_make()
    with connection.cursor() as cursor:
        cursor.execute("create role sii_test_reports_grantee nologin")  # rolled back with the test's transaction
        cursor.execute("drop view report.work")
        cursor.execute("create view report.work as select 1 as something_else")
        cursor.execute("grant select on report.work to sii_test_reports_grantee")
    summary = reports_make()
    assert summary["recreated"] == ["work"]
    assert "duration_in_hours" in view_columns("work")
    assert fetch("select has_table_privilege('sii_test_reports_grantee', 'report.work', 'SELECT')") == [(True,)]


@pytest.mark.django_db
def test_clear_reports_then_make_reports_round_trip(capsys):
    call_command("make_reports", "--sync", "--no-progress-bar")
    call_command("clear_reports", "--no-input")
    assert existing_report_views() == []
    assert fetch("select count(*) from pg_namespace where nspname = 'report'") == [(1,)]
    call_command("make_reports", "--sync", "--no-progress-bar", verbosity=2)
    assert existing_report_views() == sorted(VIEW_NAMES)
    output = capsys.readouterr().out
    assert "Dropped: report.task, report.work" in output
    summary = json.loads(output.strip().splitlines()[-1].split(") ", 1)[1])
    assert summary["job"] == "rebuild_reports"
    assert summary["created"] == list(VIEW_NAMES)


@pytest.mark.usefixtures("celery_worker_thread")
def test_make_reports_runs_as_a_job_on_the_worker(capsys):
    reports_clear()
    call_command("make_reports", "--timeout", "60", "--no-progress-bar")
    assert "make reports: done" in capsys.readouterr().out
    assert existing_report_views() == sorted(VIEW_NAMES)


@pytest.mark.django_db
def test_dry_runs_change_nothing(capsys):
    reports_make()
    call_command("clear_reports", "--dry-run")
    assert existing_report_views() == sorted(VIEW_NAMES)
    assert "Would drop: report.task, report.work" in capsys.readouterr().out
    reports_clear()
    call_command("make_reports", "--dry-run")
    assert existing_report_views() == []
    output = capsys.readouterr().out
    assert "create schema if not exists report;" in output
    assert "create or replace view report.unmatched_work as" in output


@pytest.mark.django_db
def test_clear_reports_asks_for_confirmation(monkeypatch):
    reports_make()
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Cancelled"):
        call_command("clear_reports")
    assert existing_report_views() == sorted(VIEW_NAMES)
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    call_command("clear_reports")
    assert existing_report_views() == []


@pytest.mark.django_db
def test_clear_reports_at_verbosity_0_prints_nothing(capsys):
    reports_make()
    call_command("clear_reports", "--no-input", verbosity=0)
    assert existing_report_views() == []
    assert capsys.readouterr().out == ""


def test_every_view_has_its_sql_file():
    assert [view.name for view in report_views()] == list(VIEW_NAMES)
    for view in report_views():
        assert view.query.lstrip().startswith("--") or view.query.lstrip().lower().startswith("select")
        assert "%" not in view.query  # statements run without parameters; keep them free of placeholders


def _emit_migrate_signal(signal: Any, plan: list) -> None:
    app_config = apps.get_app_config("siisurit")
    signal.send(sender=app_config, app_config=app_config, verbosity=0, interactive=False, using="default", plan=plan,
                apps=apps)  # fmt: skip


@pytest.mark.django_db
def test_migrations_can_alter_columns_the_views_use():
    reports_make()
    with connection.cursor() as cursor:
        cursor.execute("create role sii_test_reports_reader nologin")
        cursor.execute("grant select on report.task to sii_test_reports_reader")
    alter = "alter table siisurit_task alter column title type varchar(2000)"
    with pytest.raises(DatabaseError, match="used by a view"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(alter)
    plan = [(object(), False)]  # what `migrate` passes when it has migrations to apply
    _emit_migrate_signal(pre_migrate, plan)
    assert existing_report_views() == []
    with connection.cursor() as cursor:
        cursor.execute(alter)
    _emit_migrate_signal(post_migrate, plan)
    assert existing_report_views() == sorted(VIEW_NAMES)
    assert fetch("select has_table_privilege('sii_test_reports_reader', 'report.task', 'SELECT')") == [(True,)]


@pytest.mark.django_db
def test_flush_and_migrations_without_changes_leave_the_views_alone():
    reports_make()
    with connection.cursor() as cursor:
        cursor.execute("comment on view report.task is 'touched'")
    _emit_migrate_signal(pre_migrate, [])
    _emit_migrate_signal(post_migrate, [])
    call_command("migrate", verbosity=0)
    assert fetch("select obj_description('report.task'::regclass, 'pg_class')") == [("touched",)]


@pytest.mark.django_db(transaction=True)
def test_busy_views_fail_transiently_instead_of_blocking_bi_queries(monkeypatch):
    reports_make()
    monkeypatch.setattr(service, "LOCK_TIMEOUT", "200ms")
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"], port=settings_dict["PORT"], dbname=settings_dict["NAME"],
        user=settings_dict["USER"], password=settings_dict["PASSWORD"] or None,
    ) as bi_connection:  # fmt: skip
        bi_connection.execute("select count(*) from report.task")  # its transaction stays open, holding a lock
        with pytest.raises(TransientError, match="busy") as raised:
            reports_make(force=True)
        assert raised.value.retry_after == service.LOCK_RETRY_AFTER_SECONDS
    assert reports_make(force=True)["replaced"] == list(VIEW_NAMES)
