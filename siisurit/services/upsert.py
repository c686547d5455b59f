"""Idempotent batched upserts of downloaded tasks (with assignees) and work entries, and upstream deletions.

Each page is COPYed into a temporary staging table and merged with one `INSERT … ON CONFLICT (tracker_id,
external_id) DO UPDATE … WHERE … IS DISTINCT FROM …`, so unchanged rows are not written at all. External ids
seen during a complete download go to the temporary table `sii_seen_ids` (not a Python set), which the final
deletion anti-joins against. Call the functions inside a transaction (one per page) on one database connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from django.db import connection

from siisurit.connectors.records import TaskRecord, WorkRecord
from siisurit.ids import new_id
from siisurit.models import Task, TaskAssignee, WorkEntry
from siisurit.services.user_mapping import UserResolver

_TASK = Task._meta.db_table
_ASSIGNEE = TaskAssignee._meta.db_table
_WORK = WorkEntry._meta.db_table
_SEEN = "sii_seen_ids"
_DELETE_BATCH_SIZE = 1000

_TASK_COLUMNS = (
    "id", "external_id", "code", "title", "state", "is_closed", "estimate_hours", "url",
    "created_at", "updated_at", "closed_at",
)  # fmt: skip
_TASK_CHANGING = _TASK_COLUMNS[2:]
_WORK_COLUMNS = (
    "id", "external_id", "external_username", "user_id", "started_at", "duration_seconds", "text",
    "breadcrumb_trail", "external_task_id", "updated_at",
)  # fmt: skip
_WORK_CHANGING = _WORK_COLUMNS[2:]


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


def _copy_rows(cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _changed(table: str, columns: Sequence[str]) -> str:
    old = ", ".join(f"{table}.{column}" for column in columns)
    new = ", ".join(f"EXCLUDED.{column}" for column in columns)
    return f"({old}) IS DISTINCT FROM ({new})"


def seen_ids_begin() -> None:
    """Start tracking the external ids of a complete download (an empty temporary table of this session)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT to_regclass('pg_temp.{_SEEN}')")
        if cursor.fetchone()[0] is None:
            cursor.execute(f"CREATE TEMP TABLE {_SEEN} (external_id text NOT NULL)")
            # Fresh rows have no statistics yet, so the planner may pick a nested loop: keep lookups indexed.
            cursor.execute(f"CREATE INDEX ON {_SEEN} (external_id)")
        else:
            cursor.execute(f"DELETE FROM {_SEEN}")  # normally empty already: cheaper than TRUNCATE


def seen_ids_add(external_ids: Iterable[str]) -> None:
    with connection.cursor() as cursor:
        _copy_rows(cursor, _SEEN, ("external_id",), ((external_id,) for external_id in external_ids))


def seen_ids_end(*, used: bool) -> None:
    """Forget the ids if any were added (the table stays for the next download on this connection)."""
    if used:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {_SEEN}")


def _merge(cursor, *, table: str, stage: str, columns: Sequence[str], changing: Sequence[str], extra_set: str,
           extra_insert: dict[str, str], tracker_id: UUID, conflict: str) -> tuple[int, int]:  # fmt: skip
    """INSERT … SELECT from the stage with ON CONFLICT DO UPDATE only if changed; (created, updated)."""
    insert_columns = ["tracker_id", *columns, *extra_insert]
    select_values = ["%(tracker_id)s", *(f"s.{column}" for column in columns), *extra_insert.values()]
    assignments = ", ".join([*(f"{column} = EXCLUDED.{column}" for column in changing), *filter(None, [extra_set])])
    cursor.execute(
        f"""
        INSERT INTO {table} ({", ".join(insert_columns)})
        SELECT DISTINCT ON (s.external_id) {", ".join(select_values)} FROM {stage} s
        ORDER BY s.external_id, s.updated_at DESC NULLS LAST
        ON CONFLICT {conflict} DO UPDATE SET {assignments}
        WHERE {_changed(table, changing)}
        RETURNING (xmax = 0)
        """,
        {"tracker_id": tracker_id},
    )
    inserted = [row[0] for row in cursor.fetchall()]
    created = sum(1 for is_new in inserted if is_new)
    return created, len(inserted) - created


def tracker_tasks_upsert(*, tracker_id: UUID, records: Sequence[TaskRecord], resolver: UserResolver) -> UpsertCounts:
    """Insert new tasks, update changed ones, and make their assignees exactly the downloaded ones."""
    if not records:
        return UpsertCounts()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS sii_task_stage (id uuid, external_id text, code text, title text, "
            "state text, is_closed boolean, estimate_hours numeric, url text, created_at timestamptz, "
            "updated_at timestamptz, closed_at timestamptz)"
        )
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS sii_assignee_stage "
            "(id uuid, external_id text, external_username text, user_id uuid)"
        )
        # DELETE, not TRUNCATE: a small temporary table is emptied much faster than its file is replaced.
        cursor.execute("DELETE FROM sii_task_stage")
        cursor.execute("DELETE FROM sii_assignee_stage")
        _copy_rows(
            cursor,
            "sii_task_stage",
            _TASK_COLUMNS,
            (
                (new_id(), r.external_id, r.code, r.title[:1000], r.state[:100], r.is_closed, r.estimate_hours,
                 r.url[:1000], r.created_at, r.updated_at, r.closed_at)
                for r in records
            ),
        )  # fmt: skip
        # A declared task keeps its code; a downloaded task that took over another one's code replaces it.
        cursor.execute(
            f"""
            DELETE FROM sii_task_stage s USING {_TASK} t
            WHERE t.tracker_id = %(tracker_id)s AND t.is_declared AND t.code = s.code
            """,
            {"tracker_id": tracker_id},
        )
        # Driven from the small stage through the (tracker_id, code) index.
        cursor.execute(
            f"""
            SELECT t.id FROM sii_task_stage s JOIN {_TASK} t ON t.tracker_id = %(tracker_id)s AND t.code = s.code
            WHERE t.external_id <> s.external_id AND NOT t.is_declared
            """,
            {"tracker_id": tracker_id},
        )
        _tasks_delete([row[0] for row in cursor.fetchall()])
        created, updated = _merge(
            cursor,
            table=_TASK,
            stage="sii_task_stage",
            columns=_TASK_COLUMNS,
            changing=_TASK_CHANGING,
            extra_set="",
            extra_insert={"is_declared": "false"},
            tracker_id=tracker_id,
            conflict="(tracker_id, external_id) WHERE external_id <> ''",
        )
        _copy_rows(
            cursor,
            "sii_assignee_stage",
            ("id", "external_id", "external_username", "user_id"),
            (
                (new_id(), record.external_id, name[:200], resolver.resolve(name))
                for record in records
                for name in dict.fromkeys(record.assignees)
                if name
            ),
        )
        cursor.execute(
            f"""
            DELETE FROM {_ASSIGNEE} a USING {_TASK} t, sii_task_stage s
            WHERE a.task_id = t.id AND t.tracker_id = %(tracker_id)s AND t.external_id = s.external_id
              AND NOT EXISTS (
                SELECT 1 FROM sii_assignee_stage n
                WHERE n.external_id = t.external_id AND n.external_username = a.external_username
              )
            """,
            {"tracker_id": tracker_id},
        )
        cursor.execute(
            f"""
            INSERT INTO {_ASSIGNEE} (id, task_id, external_username, user_id)
            SELECT n.id, t.id, n.external_username, n.user_id
            FROM sii_assignee_stage n JOIN {_TASK} t ON t.tracker_id = %(tracker_id)s AND t.external_id = n.external_id
            ON CONFLICT (task_id, external_username) DO UPDATE SET user_id = EXCLUDED.user_id
            WHERE {_ASSIGNEE}.user_id IS DISTINCT FROM EXCLUDED.user_id
            """,
            {"tracker_id": tracker_id},
        )
    return UpsertCounts(created, updated, len(records) - created - updated)


def tracker_work_entries_upsert(
    *, tracker_id: UUID, records: Sequence[WorkRecord], resolver: UserResolver
) -> UpsertCounts:
    """Insert new work entries, update changed ones (a changed entry must be matched again: matched_at = NULL)."""
    if not records:
        return UpsertCounts()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS sii_work_stage (id uuid, external_id text, external_username text, "
            "user_id uuid, started_at timestamptz, duration_seconds integer, text text, breadcrumb_trail text, "
            "external_task_id text, updated_at timestamptz)"
        )
        cursor.execute("DELETE FROM sii_work_stage")
        _copy_rows(
            cursor,
            "sii_work_stage",
            _WORK_COLUMNS,
            (
                (new_id(), r.external_id, r.external_username[:200], resolver.resolve(r.external_username,
                 r.external_email), r.started_at, int(r.duration_seconds), r.text, r.breadcrumb_trail[:1000],
                 r.external_task_id[:1000], r.updated_at)
                for r in records
            ),
        )  # fmt: skip
        created, updated = _merge(
            cursor,
            table=_WORK,
            stage="sii_work_stage",
            columns=_WORK_COLUMNS,
            changing=_WORK_CHANGING,
            extra_set="matched_at = NULL",
            extra_insert={},
            tracker_id=tracker_id,
            conflict="(tracker_id, external_id)",
        )
    return UpsertCounts(created, updated, len(records) - created - updated)


def tracker_unseen_delete(*, tracker_id: UUID, holds: str) -> int:
    """Delete downloaded rows of the tracker whose external id was not seen; the number deleted."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {_SEEN}")
        if holds == "work":
            cursor.execute(
                f"""
                DELETE FROM {_WORK} w WHERE w.tracker_id = %(tracker_id)s
                AND NOT EXISTS (SELECT 1 FROM {_SEEN} s WHERE s.external_id = w.external_id)
                """,
                {"tracker_id": tracker_id},
            )
            return cursor.rowcount
        cursor.execute(
            f"""
            SELECT t.id FROM {_TASK} t
            WHERE t.tracker_id = %(tracker_id)s AND NOT t.is_declared AND t.external_id <> ''
            AND NOT EXISTS (SELECT 1 FROM {_SEEN} s WHERE s.external_id = t.external_id)
            """,
            {"tracker_id": tracker_id},
        )
        task_ids = [row[0] for row in cursor.fetchall()]
    return _tasks_delete(task_ids)


def _tasks_delete(task_ids: list[UUID]) -> int:
    """Delete tasks through the ORM (work entries pointing to them are unlinked, rules targeting them go too)."""
    deleted = 0
    for start in range(0, len(task_ids), _DELETE_BATCH_SIZE):
        batch = task_ids[start : start + _DELETE_BATCH_SIZE]
        WorkEntry.objects.filter(task_id__in=batch).update(task=None, work_match=None, matched_at=None)
        _, per_model = Task.objects.filter(id__in=batch).delete()
        deleted += per_model.get(Task._meta.label, 0)
    return deleted
