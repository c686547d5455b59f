"""The read-only report role: what it can read (every report view) and what it cannot (anything else).

Role creation is cluster-global and only committed grants are visible to the role's own connection, so the tests
that connect as the role use transactional databases, unique role names and drop the role afterwards.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator

import psycopg
import psycopg.errors
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from psycopg import sql

from siisurit.reports.report_user import report_user_make
from siisurit.reports.role_names import ReportUserError
from siisurit.reports.scram import scram_sha_256_verifier
from siisurit.reports.service import reports_clear, reports_make
from siisurit.reports.views import VIEW_NAMES
from tests.test_reports import GRAFANA_QUERY, build_reported_project

PASSWORD = "report-password-Z9"
HOSTILE_NAME = 'x"; drop table siisurit_user; --'


def unique_role_name(prefix: str = "sii_report_test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def connect_as(role: str) -> psycopg.Connection:
    """A separate connection to the test database as `role`, as a BI tool would open it."""
    settings_dict = connection.settings_dict
    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        dbname=settings_dict["NAME"],
        user=role,
        password=PASSWORD,
        autocommit=True,
    )


def drop_role(role: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("select count(*) from pg_roles where rolname = %s", [role])
        if not cursor.fetchone()[0]:
            return
        cursor.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)).as_string(connection.connection))
        cursor.execute(sql.SQL("drop role {}").format(sql.Identifier(role)).as_string(connection.connection))


@pytest.fixture
def report_role(transactional_db) -> Iterator[str]:
    """A committed report role with the report views and a generated project to read."""
    build_reported_project()
    reports_make()
    role = unique_role_name()
    summary = report_user_make(username=role, password=PASSWORD)
    assert summary["created"]
    assert summary["warnings"] == []
    yield role
    drop_role(role)


def assert_denied(report_connection: psycopg.Connection, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        report_connection.execute(statement)


def test_report_role_reads_every_view_and_the_grafana_query_works(report_role):
    with connect_as(report_role) as report_connection:
        for name in VIEW_NAMES:
            report_connection.execute(f"select * from report.{name}").fetchall()
        work_rows = report_connection.execute("select count(*) from report.work").fetchone()[0]
        unmatched_rows = report_connection.execute("select count(*) from report.unmatched_work").fetchone()[0]
        assert work_rows + unmatched_rows == 60
        months = report_connection.execute(GRAFANA_QUERY).fetchall()
        assert {username for _, username, _ in months} >= {"alice", "bob"}


def test_report_role_can_change_nothing(report_role):
    with connect_as(report_role) as report_connection:
        for name in VIEW_NAMES:
            for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
                query = "select has_table_privilege(%s, %s)"
                assert report_connection.execute(query, [f"report.{name}", privilege]).fetchone() == (False,)
        # PostgreSQL may refuse a write to a joined view before it checks rights; either way nothing changes.
        for statement in ("insert into report.task (task_code) values ('x')", "update report.work set username = 'x'",
                          "delete from report.unmatched_work"):  # fmt: skip
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState)):
                report_connection.execute(statement)
        assert_denied(report_connection, "create table report.stolen (id int)")
        assert_denied(report_connection, "create view report.stolen as select 1 as x")
        assert_denied(report_connection, "create table public.stolen (id int)")
        assert_denied(report_connection, "create table stolen (id int)")
        assert_denied(report_connection, "drop view report.task")
        assert_denied(report_connection, "insert into siisurit_user (id, username) values (gen_random_uuid(), 'x')")
        assert_denied(report_connection, "update siisurit_task set title = 'x'")
        assert_denied(report_connection, "create schema stolen")


def test_report_role_cannot_read_tables_outside_report(report_role):
    with connect_as(report_role) as report_connection:
        for table in ("siisurit_user", "siisurit_tracker", "siisurit_workentry", "siisurit_organization",
                      "django_migrations", "django_session", "public.siisurit_task"):  # fmt: skip
            assert_denied(report_connection, f"select * from {table}")
        readable = report_connection.execute(
            """
            select namespace.nspname, relation.relname
            from pg_class as relation
            join pg_namespace as namespace on namespace.oid = relation.relnamespace
            where relation.relkind in ('r', 'v', 'm', 'p', 'f')
                and namespace.nspname not in ('pg_catalog', 'information_schema')
                and has_table_privilege(relation.oid, 'SELECT')
            """
        ).fetchall()
    assert sorted(readable) == sorted(("report", name) for name in VIEW_NAMES)


def test_views_created_later_are_readable(report_role):
    with connection.cursor() as cursor:
        cursor.execute("create view report.later as select 42 as answer")
    reports_clear()
    reports_make()  # every report view is dropped and created after the grant
    with connect_as(report_role) as report_connection:
        assert report_connection.execute("select answer from report.later").fetchone() == (42,)
        for name in VIEW_NAMES:
            report_connection.execute(f"select count(*) from report.{name}").fetchone()
    with connection.cursor() as cursor:
        cursor.execute("drop view report.later")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("hostile", [HOSTILE_NAME, "report reader", 'o\'brien "bi"'])
def test_hostile_role_names_are_quoted_not_executed(hostile):
    role = hostile + " " + uuid.uuid4().hex[:8]
    reports_make()
    try:
        report_user_make(username=role, password='it\'s a "password"; drop table siisurit_task; --')
        with connection.cursor() as cursor:
            cursor.execute("select rolname from pg_roles where rolname = %s", [role])
            assert cursor.fetchall() == [(role,)]
            cursor.execute("select to_regclass('siisurit_user') is not null, to_regclass('siisurit_task') is not null")
            assert cursor.fetchone() == (True, True)
        with connect_as(role) as report_connection:
            report_connection.execute("select count(*) from report.task").fetchone()
            assert_denied(report_connection, "select * from siisurit_user")
    finally:
        drop_role(role)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("r" * 64, "at most 63 bytes"),
        ("é" * 32, "at most 63 bytes"),
        ("bad\x00name", "NUL"),
        ("pg_reader", "reserved"),
        ("PUBLIC", "reserved"),
    ],
)
def test_unusable_role_names_are_rejected(name, message):
    with pytest.raises(ReportUserError, match=message):
        report_user_make(username=name, password=PASSWORD)


@pytest.mark.django_db
def test_role_name_of_63_bytes_is_accepted():
    role = "r" * 63
    assert report_user_make(username=role, password=PASSWORD)["created"]  # rolled back with the test transaction


@pytest.mark.django_db
def test_empty_password_is_rejected():
    with pytest.raises(ReportUserError, match="SII_POSTGRES_REPORT_PASSWORD"):
        report_user_make(username=unique_role_name(), password="")


@pytest.mark.django_db
def test_existing_role_gets_a_new_password_and_the_same_rights():
    role = unique_role_name()
    assert report_user_make(username=role, password="first")["created"]
    first = _stored_password(role)
    summary = report_user_make(username=role, password="second")
    assert not summary["created"]
    assert summary["warnings"] == []
    assert _stored_password(role) != first
    assert _scram_matches(_stored_password(role), "second")


@pytest.mark.django_db
def test_password_verifier_is_the_one_postgresql_computes():
    role = unique_role_name()
    with connection.cursor() as cursor:
        cursor.execute("set local password_encryption = 'scram-sha-256'")
        cursor.execute(sql.SQL("create role {} password 'Tr1cky pa$$word'").format(sql.Identifier(role)).as_string(
            connection.connection))  # fmt: skip
    assert _scram_matches(_stored_password(role), "Tr1cky pa$$word")
    assert not _scram_matches(_stored_password(role), "wrong")


@pytest.mark.django_db
def test_non_ascii_password_is_quoted_and_left_to_the_server():
    password = "pä's\"s'; drop table siisurit_task; --"
    assert scram_sha_256_verifier(password) is None
    role = unique_role_name()
    report_user_make(username=role, password=password)
    assert _stored_password(role).startswith("SCRAM-SHA-256$")
    with connection.cursor() as cursor:
        cursor.execute("select to_regclass('siisurit_task') is not null")
        assert cursor.fetchone() == (True,)


@pytest.mark.django_db
def test_dry_run_masks_the_password_and_changes_nothing():
    role = unique_role_name()
    summary = report_user_make(username=role, password=PASSWORD, dry_run=True)
    text = "\n".join(summary["statements"])
    assert PASSWORD not in text
    assert "'********'" in text
    assert f'create role "{role}"' in text
    assert "alter default privileges for role" in text
    with connection.cursor() as cursor:
        cursor.execute("select count(*) from pg_roles where rolname = %s", [role])
        assert cursor.fetchone() == (0,)


@pytest.mark.django_db
def test_admin_without_createrole_gets_a_clear_error():
    weak = unique_role_name("sii_weak_admin")
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("create role {} nologin").format(sql.Identifier(weak)).as_string(connection.connection))
        cursor.execute(sql.SQL("set role {}").format(sql.Identifier(weak)).as_string(connection.connection))
    try:
        with pytest.raises(ReportUserError, match="may not create roles: it needs CREATEROLE"):
            report_user_make(username=unique_role_name(), password=PASSWORD)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("reset role")


@pytest.mark.django_db
def test_roles_with_more_rights_are_refused():
    with connection.cursor() as cursor:
        cursor.execute("select current_user")
        (admin,) = cursor.fetchone()
    with pytest.raises(ReportUserError, match="another role than the one Siisurit connects as"):
        report_user_make(username=admin, password=PASSWORD)
    powerful = unique_role_name()
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("create role {} createdb").format(sql.Identifier(powerful)).as_string(
            connection.connection))  # fmt: skip
    with pytest.raises(ReportUserError, match="exists with CREATEDB"):
        report_user_make(username=powerful, password=PASSWORD)


@pytest.mark.django_db
def test_make_report_user_command_needs_both_settings():
    with override_settings(SII_POSTGRES_REPORT_USERNAME="", SII_POSTGRES_REPORT_PASSWORD=""), pytest.raises(
        CommandError, match="SII_POSTGRES_REPORT_USERNAME and SII_POSTGRES_REPORT_PASSWORD"
    ):  # fmt: skip
        call_command("make_report_user")
    with override_settings(SII_POSTGRES_REPORT_USERNAME="reader", SII_POSTGRES_REPORT_PASSWORD=""), pytest.raises(
        CommandError, match="set SII_POSTGRES_REPORT_PASSWORD"
    ):  # fmt: skip
        call_command("make_report_user")
    with override_settings(SII_POSTGRES_REPORT_USERNAME="pg_bad", SII_POSTGRES_REPORT_PASSWORD=PASSWORD), pytest.raises(
        CommandError, match="reserved"
    ):  # fmt: skip
        call_command("make_report_user")


@pytest.mark.django_db
def test_make_report_user_command_creates_the_role_and_dry_run_does_not(capsys):
    role = unique_role_name()
    with override_settings(SII_POSTGRES_REPORT_USERNAME=role, SII_POSTGRES_REPORT_PASSWORD=PASSWORD):
        call_command("make_report_user", "--dry-run")
        output = capsys.readouterr().out
        assert PASSWORD not in output
        assert "Dry run: would create role" in output
        assert _role_count(role) == 0
        call_command("make_report_user")
        assert f"Created report role '{role}'" in capsys.readouterr().out
        assert _role_count(role) == 1
        call_command("make_report_user")
        assert "Updated password and rights" in capsys.readouterr().out


def _role_count(role: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("select count(*) from pg_roles where rolname = %s", [role])
        return cursor.fetchone()[0]


def _stored_password(role: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("select rolpassword from pg_authid where rolname = %s", [role])
        return cursor.fetchone()[0]


def _scram_matches(stored: str, password: str) -> bool:
    """Recompute the verifier with the stored salt and iterations, as the server does on login."""
    method, rest = stored.split("$", 1)
    iterations, salt = rest.split("$")[0].split(":")
    assert method == "SCRAM-SHA-256"
    return scram_sha_256_verifier(password, salt=base64.b64decode(salt), iterations=int(iterations)) == stored
