"""Keep migrations working: drop the report views before migrations run and create them again afterwards.

PostgreSQL refuses to alter a column a view uses ("cannot alter type of a column used by a view"), so a migration
of a table behind a report would fail while the views exist. Connected in `SiisuritConfig.ready()`; both handlers
act only when `migrate` has something to apply (`flush` and no-op runs leave the views alone).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connections, transaction
from django.db.migrations.executor import MigrationExecutor

from siisurit.reports.service import reports_make, views_drop
from siisurit.reports.views import report_views

logger = logging.getLogger(__name__)

# GRANT statements of the dropped views per database alias, restored after the migrations (same process).
_grants_to_restore: dict[str, list[str]] = {}


def report_views_drop_before_migrate(sender: Any, *, using: str, plan: list | None = None, **kwargs: Any) -> None:
    if not plan or connections[using].vendor != "postgresql":
        return
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        grants = views_drop(cursor, report_views())
    _grants_to_restore[using] = grants


def report_views_create_after_migrate(sender: Any, *, using: str, plan: list | None = None, **kwargs: Any) -> None:
    if not plan or connections[using].vendor != "postgresql":
        return
    grants = _grants_to_restore.pop(using, [])
    if not _is_fully_migrated(using):
        # Tables may be missing or old (e.g. `migrate siisurit zero`); make_reports creates the views later.
        logger.warning("database %s is not fully migrated; report views not created (run make_reports)", using)
        return
    reports_make(using=using)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        for grant in grants:
            cursor.execute(grant)


def _is_fully_migrated(using: str) -> bool:
    executor = MigrationExecutor(connections[using])
    return not executor.migration_plan(executor.loader.graph.leaf_nodes())
