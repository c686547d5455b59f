"""Creating and re-creating the configured PostgreSQL database (commands `ensure_database` and `reset_db`).

These statements cannot run inside the database they change, so they run on the server's maintenance database
`postgres` with the configured credentials.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql


class DatabaseAdminError(Exception):
    """The server refused or could not be reached; the message names the database and host."""


def _maintenance_connection(database: dict[str, Any]) -> psycopg.Connection:
    return psycopg.connect(
        dbname="postgres",
        host=database["HOST"],
        port=database["PORT"] or None,
        user=database["USER"],
        password=database["PASSWORD"] or None,
        autocommit=True,
        connect_timeout=10,
    )


def _error(action: str, database: dict[str, Any], error: psycopg.Error) -> DatabaseAdminError:
    target = f"database {database['NAME']} on {database['HOST']}"
    return DatabaseAdminError(f"cannot {action} {target}: {str(error).strip()}")


def database_create(*, database: dict[str, Any]) -> bool:
    """Create the database of `database` (Django's DATABASES entry) unless it exists; True if it was created."""
    try:
        with _maintenance_connection(database) as connection:
            if connection.execute("select 1 from pg_database where datname = %s", [database["NAME"]]).fetchone():
                return False
            connection.execute(sql.SQL("create database {}").format(sql.Identifier(database["NAME"])))
    except psycopg.Error as error:
        raise _error("create", database, error) from error
    return True


def database_recreate(*, database: dict[str, Any]) -> None:
    """Drop the database of `database` with all its data (ending its other sessions), then create it empty."""
    name = sql.Identifier(database["NAME"])
    try:
        with _maintenance_connection(database) as connection:
            # WITH (FORCE), PostgreSQL 13+: ends the sessions of workers, Flower or a BI tool instead of failing.
            connection.execute(sql.SQL("drop database if exists {} with (force)").format(name))
            connection.execute(sql.SQL("create database {}").format(name))
    except psycopg.Error as error:
        raise _error("re-create", database, error) from error
