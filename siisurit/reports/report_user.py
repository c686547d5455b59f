"""The read-only PostgreSQL role a BI tool uses to read the report views (command make_report_user).

It may connect to the database, use schema `report` and select from its views (also from views created later),
and nothing else. Names are quoted as identifiers and the password as a literal, so neither can inject SQL; the
password is sent as a SCRAM verifier where possible and executed outside Django's query log.
"""

from __future__ import annotations

from typing import Any

import psycopg.errors
from django.db import connections, transaction
from psycopg import sql

from siisurit.reports.role_names import ReportUserError, role_name_checked
from siisurit.reports.scram import scram_sha_256_verifier
from siisurit.reports.views import REPORT_SCHEMA, create_schema_statement

_MASKED_PASSWORD = "********"  # noqa: S105 - what dry runs show instead of the password
_ELEVATED_ATTRIBUTES = ("rolsuper", "rolcreaterole", "rolcreatedb", "rolreplication", "rolbypassrls")
_MAX_LISTED = 10


def report_user_make(*, username: str, password: str, dry_run: bool = False, using: str = "default") -> dict[str, Any]:
    """Create the report role (or set its password if it exists) and grant it exactly read access to the reports.

    Returns the role name, whether it was created, the statements (password masked) and `warnings` naming
    anything outside schema `report` that the role can still read or create objects in.
    """
    role_name_checked(username)
    if not password:
        raise ReportUserError("SII_POSTGRES_REPORT_PASSWORD must not be empty")
    with transaction.atomic(using=using), connections[using].connection.cursor() as cursor:
        admin, database = _current_role_and_database(cursor)
        _check_admin_may_manage_roles(cursor, admin=admin, username=username)
        exists = _role_exists_read_only(cursor, username=username)
        plan = {"username": username, "admin": admin, "database": database, "exists": exists}
        shown = [statement.as_string(cursor) for statement in _statements(**plan, password=None)]
        if dry_run:
            return {"role": username, "dry_run": True, "exists": exists, "statements": shown}
        try:
            for statement in _statements(**plan, password=password):
                cursor.execute(statement)
        except psycopg.errors.InsufficientPrivilege as error:
            message = error.diag.message_primary
            raise ReportUserError(
                f"the database user {admin!r} lacks a right the report role needs: {message}"
            ) from None
        warnings = _access_outside_reports(cursor, username=username)
    return {"role": username, "created": not exists, "statements": shown, "warnings": warnings}


def _current_role_and_database(cursor: Any) -> tuple[str, str]:
    cursor.execute("select current_user, current_database()")
    admin, database = cursor.fetchone()
    return admin, database


def _check_admin_may_manage_roles(cursor: Any, *, admin: str, username: str) -> None:
    if username == admin:
        raise ReportUserError(
            f"SII_POSTGRES_REPORT_USERNAME must name another role than the one Siisurit connects as ({admin!r})"
        )
    cursor.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user")
    (may_create_roles,) = cursor.fetchone()
    if not may_create_roles:
        raise ReportUserError(
            f"the database user {admin!r} may not create roles: it needs CREATEROLE (or SUPERUSER), "
            "or an administrator runs make_report_user"
        )


def _role_exists_read_only(cursor: Any, *, username: str) -> bool:
    """Whether the role exists; refuses a role with rights a read-only role must not have."""
    cursor.execute(
        sql.SQL("select {} from pg_roles where rolname = %s").format(
            sql.SQL(", ").join(sql.Identifier(attribute) for attribute in _ELEVATED_ATTRIBUTES)
        ),
        [username],
    )
    row = cursor.fetchone()
    if row is None:
        return False
    elevated = [
        attribute.removeprefix("rol").upper()
        for attribute, value in zip(_ELEVATED_ATTRIBUTES, row, strict=True)
        if value
    ]
    if elevated:
        raise ReportUserError(
            f"the role {username!r} named by SII_POSTGRES_REPORT_USERNAME exists with {', '.join(elevated)}; "
            "a read-only report role must not have these, so choose another name"
        )
    return True


def _statements(
    *, username: str, admin: str, database: str, exists: bool, password: str | None
) -> list[sql.Composable]:
    """What makes the role; `password=None` masks it (for dry runs and output)."""
    role = sql.Identifier(username)
    schema = sql.Identifier(REPORT_SCHEMA)
    if password is None:
        password_literal = sql.Literal(_MASKED_PASSWORD)
    else:
        password_literal = sql.Literal(scram_sha_256_verifier(password) or password)
    if exists:
        role_statement = sql.SQL("alter role {} with login password {}").format(role, password_literal)
    else:
        role_statement = sql.SQL(
            "create role {} with login nosuperuser nocreatedb nocreaterole noinherit noreplication nobypassrls "
            "password {}"
        ).format(role, password_literal)
    return [
        role_statement,
        sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), role),
        sql.SQL(create_schema_statement()),
        # Revoking first makes the rights exact even for a role that existed with more of them.
        sql.SQL("revoke all on schema {} from {}").format(schema, role),
        sql.SQL("grant usage on schema {} to {}").format(schema, role),
        sql.SQL("revoke all on all tables in schema {} from {}").format(schema, role),
        sql.SQL("grant select on all tables in schema {} to {}").format(schema, role),
        sql.SQL("alter default privileges for role {} in schema {} grant select on tables to {}").format(
            sql.Identifier(admin), schema, role
        ),
    ]


def _access_outside_reports(cursor: Any, *, username: str) -> list[str]:
    """Warnings about tables outside `report` the role can read and schemas it can create objects in."""
    cursor.execute(
        """
        select quote_ident(namespace.nspname) || '.' || quote_ident(relation.relname)
        from pg_class as relation
        join pg_namespace as namespace on namespace.oid = relation.relnamespace
        where relation.relkind in ('r', 'v', 'm', 'p', 'f')
            and namespace.nspname not in (%s, 'information_schema')
            and left(namespace.nspname, 3) <> 'pg_'
            and has_table_privilege(%s::name, relation.oid, 'SELECT')
        order by 1
        """,
        [REPORT_SCHEMA, username],
    )
    readable = [name for (name,) in cursor.fetchall()]
    cursor.execute(
        "select quote_ident(nspname) from pg_namespace where has_schema_privilege(%s::name, oid, 'CREATE') order by 1",
        [username],
    )
    creatable = [name for (name,) in cursor.fetchall()]
    warnings = []
    if readable:
        listed = ", ".join(readable[:_MAX_LISTED]) + (", …" if len(readable) > _MAX_LISTED else "")
        warnings.append(f"the role can read {len(readable)} table(s) outside schema {REPORT_SCHEMA}: {listed}")
    if creatable:
        warnings.append(
            f"the role can create objects in schema(s) {', '.join(creatable)}; "
            f"e.g. REVOKE CREATE ON SCHEMA public FROM PUBLIC (PostgreSQL before 15 grants it)"
        )
    return warnings
