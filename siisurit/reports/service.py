"""Services that create, replace and drop the report views (jobs `rebuild_reports`, commands make/clear_reports)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg.errors
from django.db import DatabaseError, connections, transaction

from siisurit.errors import PermanentError, TransientError
from siisurit.jobs import Progress
from siisurit.reports.acl import view_grant_statements
from siisurit.reports.views import REPORT_SCHEMA, ReportView, create_schema_statement, report_views

logger = logging.getLogger(__name__)

# A BI query running while the views are replaced delays the replacement; waiting longer than this would queue
# every other BI query behind it, so the job gives up and the queue retries later.
LOCK_TIMEOUT = "15s"
LOCK_RETRY_AFTER_SECONDS = 60


def reports_make(
    *, dry_run: bool = False, force: bool = False, progress: Progress | None = None, using: str = "default"
) -> dict[str, Any]:
    """Create or replace every report view in one transaction; views whose definition is unchanged stay as they are.

    A view whose columns changed incompatibly is dropped and created again in the same transaction, keeping its
    grants. `force` replaces unchanged views too. `dry_run` returns the statements without touching the database.
    """
    views = report_views()
    if dry_run:
        statements = [create_schema_statement()]
        for view in views:
            statements += [view.create_statement(), view.comment_statement()]
        return {"dry_run": True, "views": [view.name for view in views], "statements": statements}
    summary: dict[str, Any] = {"created": [], "replaced": [], "recreated": [], "unchanged": []}
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor, _lock_timeout(cursor):
            cursor.execute(create_schema_statement())
            comments = _existing_view_comments(cursor)
            for index, view in enumerate(views):
                if progress:
                    progress(index, len(views), view.qualified_name)
                if not force and comments.get(view.name) == view.comment:
                    outcome = "unchanged"
                else:
                    outcome = _view_make(cursor, view, exists=view.name in comments, using=using)
                summary[outcome].append(view.name)
    except DatabaseError as error:
        _raise_if_lock_timeout(error)
        raise
    if progress:
        progress(len(views), len(views), "done")
    logger.info("report views: %s", {outcome: names for outcome, names in summary.items() if names})
    return summary


def reports_clear(*, dry_run: bool = False, using: str = "default") -> dict[str, Any]:
    """Drop every report view, keeping the schema `report`; `dry_run` only names the views that would go."""
    views = report_views()
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        existing = [view for view in views if view.name in _existing_view_comments(cursor)]
        if dry_run:
            return {"dry_run": True, "views": [view.name for view in existing]}
        try:
            with _lock_timeout(cursor):
                views_drop(cursor, existing)
        except DatabaseError as error:
            _raise_if_lock_timeout(error)
            raise
    return {"dropped": [view.name for view in existing]}


def views_drop(cursor: Any, views: tuple[ReportView, ...] | list[ReportView]) -> list[str]:
    """Drop `views` (never cascading into other people's views); return the GRANT statements that restore them."""
    grants: list[str] = []
    for view in reversed(views):
        grants += view_grant_statements(cursor, view.qualified_name)
        _execute_drop(cursor, view)
    return grants


def existing_report_views(*, using: str = "default") -> list[str]:
    """Names of the report views that exist now."""
    with connections[using].cursor() as cursor:
        return sorted(_existing_view_comments(cursor))


def _view_make(cursor: Any, view: ReportView, *, exists: bool, using: str) -> str:
    if not exists:
        cursor.execute(view.create_statement())
        cursor.execute(view.comment_statement())
        return "created"
    try:
        with transaction.atomic(using=using):
            cursor.execute(view.create_statement())
        outcome = "replaced"
    except DatabaseError as error:
        # CREATE OR REPLACE VIEW may only append columns; renamed, removed or retyped columns need a new view.
        if not isinstance(error.__cause__, psycopg.errors.InvalidTableDefinition):
            raise
        logger.info("report view %s changed its columns, dropping and creating it again", view.qualified_name)
        grants = view_grant_statements(cursor, view.qualified_name)
        _execute_drop(cursor, view)
        cursor.execute(view.create_statement())
        for grant in grants:
            cursor.execute(grant)
        outcome = "recreated"
    cursor.execute(view.comment_statement())
    return outcome


def _execute_drop(cursor: Any, view: ReportView) -> None:
    try:
        cursor.execute(view.drop_statement())
    except DatabaseError as error:
        if isinstance(error.__cause__, psycopg.errors.DependentObjectsStillExist):
            detail = getattr(error.__cause__.diag, "message_detail", None) or ""
            raise PermanentError(
                f"cannot drop {view.qualified_name}: other database objects depend on it ({detail.strip()}); "
                "drop them first"
            ) from error
        raise


def _existing_view_comments(cursor: Any) -> dict[str, str | None]:
    """Our report views that exist now, each with its comment (which holds the definition fingerprint)."""
    cursor.execute(
        """
        select view.relname, obj_description(view.oid, 'pg_class')
        from pg_class as view
        join pg_namespace as namespace on namespace.oid = view.relnamespace
        where namespace.nspname = %s and view.relkind = 'v' and view.relname = any(%s)
        """,
        [REPORT_SCHEMA, [view.name for view in report_views()]],
    )
    return dict(cursor.fetchall())


@contextmanager
def _lock_timeout(cursor: Any) -> Iterator[None]:
    """Limit lock waits for the statements inside, then restore the previous limit of the transaction."""
    cursor.execute("select current_setting('lock_timeout')")
    (previous,) = cursor.fetchone()
    cursor.execute("select set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
    yield
    cursor.execute("select set_config('lock_timeout', %s, true)", [previous])


def _raise_if_lock_timeout(error: DatabaseError) -> None:
    if isinstance(error.__cause__, psycopg.errors.LockNotAvailable):
        raise TransientError(
            f"report views are busy (a query held them longer than {LOCK_TIMEOUT}); try again later",
            retry_after=LOCK_RETRY_AFTER_SECONDS,
        ) from error
