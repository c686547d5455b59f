"""reset_db: drop, re-create and migrate the configured database, on the embedded server and on configured ones.

Each test works on a throw-away database of the test session's PostgreSQL server, through `manage.py` in a child
process whose settings name that database, and drops it afterwards.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.db import connection
from psycopg import sql

from siisurit.reports.views import VIEW_NAMES
from tests.processes import child_environment

_REPO = Path(__file__).resolve().parent.parent
_MIGRATIONS = len(list((_REPO / "siisurit" / "migrations").glob("0*.py")))


def _server() -> dict[str, str]:
    """Host (socket directory), port and user of the test session's PostgreSQL server."""
    settings_dict = connection.settings_dict
    return {"host": settings_dict["HOST"], "port": str(settings_dict["PORT"]), "user": settings_dict["USER"]}


def _connect(dbname: str) -> psycopg.Connection:
    return psycopg.connect(**_server(), dbname=dbname, autocommit=True)


def _configured_server_variables() -> dict[str, str]:
    """SII_POSTGRES_* naming the same server as a configured one (no embedded server is started or used)."""
    server = _server()
    return {
        "SII_POSTGRES_HOST": server["host"],
        "SII_POSTGRES_PORT": server["port"],
        "SII_POSTGRES_USERNAME": server["user"],
    }


@pytest.fixture
def database() -> Iterator[str]:
    """The name of a throw-away database (not created yet); dropped after the test."""
    name = f"siisurit_reset_test_{uuid.uuid4().hex[:10]}"
    yield name
    with _connect("postgres") as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _create_with_leftover(name: str) -> None:
    with _connect("postgres") as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    with _connect(name) as database:
        database.execute("create table leftover (id integer)")


def _has_leftover(name: str) -> bool:
    with _connect(name) as database:
        return database.execute("select to_regclass('public.leftover') is not null").fetchone()[0]


def _reset_db(name: str, *arguments: str, stdin: str | None = None, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "reset_db", *arguments],
        cwd=_REPO, env=child_environment(SII_POSTGRES_DATABASE=name, **variables), input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _assert_migrated_with_report_views(name: str) -> None:
    with _connect(name) as database:
        applied = database.execute("select count(*) from django_migrations where app = 'siisurit'").fetchone()[0]
        views = database.execute("select viewname from pg_views where schemaname = 'report'").fetchall()
    assert applied == _MIGRATIONS
    assert sorted(view for (view,) in views) == sorted(VIEW_NAMES)


@pytest.mark.django_db
def test_embedded_server_database_is_dropped_even_with_open_sessions_and_comes_back_migrated(database):
    _create_with_leftover(database)
    with _connect(database) as open_session:  # as a worker or a BI tool would hold one
        result = _reset_db(database, "--no-input", "-v0")

        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        assert _session_was_ended(open_session)
    assert not _has_leftover(database)
    _assert_migrated_with_report_views(database)


def _session_was_ended(session: psycopg.Connection) -> bool:
    try:
        session.execute("select 1")
    except psycopg.OperationalError:
        return True
    return False


@pytest.mark.django_db
def test_configured_server_database_is_created_migrated_and_the_report_role_can_read_again(database):
    role, password = f"sii_reset_reader_{uuid.uuid4().hex[:8]}", "reset-reader-Z9"
    variables = {
        **_configured_server_variables(),
        "SII_POSTGRES_REPORT_USERNAME": role,
        "SII_POSTGRES_REPORT_PASSWORD": password,
    }
    try:
        result = _reset_db(database, "--no-input", **variables)

        assert result.returncode == 0, result.stderr
        assert f"Re-created and migrated database {database} on " in result.stdout
        assert "report views: report.assignee, report.contribution, report.task" in result.stdout
        _assert_migrated_with_report_views(database)
        with psycopg.connect(**{**_server(), "user": role}, password=password, dbname=database) as reader:
            assert reader.execute("select count(*) from report.work").fetchone() == (0,)
    finally:
        with _connect("postgres") as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))
            admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


@pytest.mark.django_db
def test_without_a_yes_or_with_dry_run_nothing_is_dropped(database):
    _create_with_leftover(database)

    for stdin in (None, "no\n"):  # no terminal at all, or another answer than "yes"
        result = _reset_db(database, stdin=stdin)
        assert result.returncode == 1
        assert f"Cancelled; database {database} on " in result.stderr
    dry_run = _reset_db(database, "--dry-run")
    assert dry_run.returncode == 0
    assert f"Would drop database {database} on " in dry_run.stdout

    assert _has_leftover(database)
    result = _reset_db(database, "--no-migrate", stdin="yes\n")
    assert result.returncode == 0, result.stderr
    assert not _has_leftover(database)


@pytest.mark.django_db
def test_production_is_refused_unless_forced(database):
    _create_with_leftover(database)
    production = {
        **_configured_server_variables(),
        "SII_ENVIRONMENT": "production",
        "SII_SECRET_KEY": secrets.token_urlsafe(45),
        "SII_FERNET_KEYS": Fernet.generate_key().decode(),
        "SII_POSTGRES_PASSWORD": secrets.token_hex(16),
    }

    refused = _reset_db(database, "--no-input", **production)
    assert refused.returncode == 1
    assert "SII_ENVIRONMENT is production" in refused.stderr and "--force" in refused.stderr
    assert _has_leftover(database)

    forced = _reset_db(database, "--no-input", "--force", "--no-migrate", **production)
    assert forced.returncode == 0, forced.stderr
    assert not _has_leftover(database)


def test_help_explains_every_option_with_its_default():
    result = subprocess.run(
        [sys.executable, "manage.py", "reset_db", "--help"],
        cwd=_REPO, env=child_environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    text = " ".join(result.stdout.split())
    for option in ("--no-input", "--force", "--no-migrate", "--dry-run"):
        assert option in text
    assert text.count("(default:") >= 4
