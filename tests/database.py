"""The test databases: one migration for all parallel test processes, and how transactional tests empty them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.operations import DatabaseOperations

#: Rows that `migrate` writes and the post_migrate signal after each flush puts back if missing; left in place.
_TABLES_KEPT = frozenset({"django_content_type", "auth_permission"})
_SQL_FLUSH = DatabaseOperations.sql_flush


def _sql_flush_by_delete(
    self: DatabaseOperations,
    style: Any,
    tables: list[str],
    *,
    reset_sequences: bool = False,
    allow_cascade: bool = False,
) -> list[str]:
    """`DELETE FROM` each table instead of one `TRUNCATE` of all (Django's `flush` after each transactional test).

    TRUNCATE replaces the files of every table, 27 of them, which costs 0.1 s on a quiet disk and up to 1 s on a busy
    one, for tables that hold a few rows; DELETE of those rows takes milliseconds. Foreign keys are checked at commit
    (Django declares them deferred), when all tables are empty, so the order does not matter; the match table's
    triggers fire on DELETE as on TRUNCATE. Content types and permissions stay: the post_migrate signal that follows
    the flush then only reads them (15 ms instead of 100 ms to write them anew).
    """
    if reset_sequences or allow_cascade:  # never asked for by these tests: Django's own statement then
        return _SQL_FLUSH(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
    return [f"DELETE FROM {self.quote_name(table)};" for table in tables if table not in _TABLES_KEPT]


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete() -> Iterator[None]:
    with mock.patch.object(DatabaseOperations, "sql_flush", _sql_flush_by_delete):
        yield


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None, django_db_blocker: Any) -> None:
    """Parallel test processes copy their test database from one migrated in this run, instead of each migrating.

    pytest-xdist's processes share a run id: the first process to take the lock creates and migrates the template
    and labels it with the run id, the others find it ready. Django then creates each test database from it
    (`CREATE DATABASE … TEMPLATE`) and finds nothing left to migrate. A template of an earlier run is made anew, so
    it never lags behind the migrations or the report views. A single process (no xdist) migrates as usual.
    """
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run_id:
        return
    with django_db_blocker.unblock():
        template = _template_of_this_run(connection, run_id)
    settings.DATABASES[connection.alias].setdefault("TEST", {})["TEMPLATE"] = template
    connection.settings_dict.setdefault("TEST", {})["TEMPLATE"] = template


def _template_of_this_run(connection: BaseDatabaseWrapper, run_id: str) -> str:
    """The name of the migrated template database of test run `run_id` (made by whichever process comes first)."""
    if not run_id.isalnum():
        raise ValueError(f"unexpected pytest-xdist run id {run_id!r}")
    name = f"test_{connection.settings_dict['NAME']}_template"
    quoted = connection.ops.quote_name(name)
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [name])
        try:
            cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name])
            row = cursor.fetchone()
            if row is None or row[0] != run_id:
                cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")
                cursor.execute(f"CREATE DATABASE {quoted}")
                _migrate(connection, name)
                cursor.execute(f"COMMENT ON DATABASE {quoted} IS '{run_id}'")
        finally:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [name])
    return name


def _migrate(connection: BaseDatabaseWrapper, name: str) -> None:
    """Migrate database `name` through `connection`, which points to its usual database again afterwards."""
    usual = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        call_command("migrate", verbosity=0, interactive=False, database=connection.alias, run_syncdb=True)
    finally:
        connection.close()  # the template cannot be copied while a session is connected to it
        connection.settings_dict["NAME"] = usual
