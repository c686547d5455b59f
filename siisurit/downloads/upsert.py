"""Idempotent batched upserts of downloaded tasks (with assignees) and work entries, and upstream deletions.

Each batch is COPYed (binary, straight from the record attributes) into a temporary staging table and merged with
one `INSERT … ON CONFLICT (tracker_id, external_id) DO UPDATE … WHERE … IS DISTINCT FROM …`, so unchanged rows
are not written at all. Into a tracker that had no downloaded rows when its download began (`only_new`), a batch is
a plain `INSERT … SELECT` instead (no conflict to look for: about a quarter cheaper per row); should an external id
come twice after all (a listing shifted while it was paged), the statement fails and the caller merges the batch.
Per row, Python only builds a tuple (users are resolved once per distinct name; assignee names are cut to their
column where they are made unique per task): other truncation and primary keys (UUIDv7 with the host bits of
`siisurit.ids`, made in SQL) happen in PostgreSQL. External ids seen during a complete
download go to the temporary table `sii_seen_ids` (not a Python set), which the final deletion anti-joins against.
Call the functions inside a transaction (one per batch) on one database connection.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.db import connection

from siisurit.connectors.records import TaskRecord, WorkRecord
from siisurit.downloads.user_mapping import UserResolver
from siisurit.ids import HOST_BITS
from siisurit.models import Task, TaskAssignee, WorkEntry, WorkEntryMatch

_TASK = Task._meta.db_table
_ASSIGNEE = TaskAssignee._meta.db_table
_WORK = WorkEntry._meta.db_table
# A changed work entry must be matched again: its match keeps the task until then, without `matched_at`.
_UNSTAMP_CHANGED_MATCHES = f"""
    UPDATE {WorkEntryMatch._meta.db_table} SET matched_at = NULL
    WHERE work_entry_id IN (SELECT id FROM merged WHERE NOT is_new) AND matched_at IS NOT NULL
"""
# An assignee already stored keeps its row; only its user may change (the user mapping did).
_ASSIGNEE_USER_UPDATE = f"""
    ON CONFLICT (task_id, external_username) DO UPDATE SET user_id = EXCLUDED.user_id
    WHERE {_ASSIGNEE}.user_id IS DISTINCT FROM EXCLUDED.user_id
"""
_SEEN = "sii_seen_ids"
_TASK_STAGE = "sii_task_rows"
_ASSIGNEE_STAGE = "sii_assignee_rows"
_WORK_STAGE = "sii_work_rows"
_DELETE_BATCH_SIZE = 1000

# (column, staging type, SQL of the stored value from stage row `s`); truncation lengths are the model's.
_TASK_STAGE_COLUMNS = (
    ("external_id", "text", "s.external_id"),
    ("code", "text", "s.code"),
    ("title", "text", "left(s.title, 1000)"),
    ("state", "text", "left(s.state, 100)"),
    ("is_closed", "bool", "s.is_closed"),
    ("estimate_hours", "numeric", "s.estimate_hours"),
    ("url", "text", "left(s.url, 1000)"),
    ("created_at", "timestamptz", "s.created_at"),
    ("updated_at", "timestamptz", "s.updated_at"),
    ("closed_at", "timestamptz", "s.closed_at"),
)
_WORK_STAGE_COLUMNS = (
    ("external_id", "text", "s.external_id"),
    ("external_username", "text", "left(s.external_username, 200)"),
    ("user_id", "uuid", "s.user_id"),
    ("started_at", "timestamptz", "s.started_at"),
    ("duration_seconds", "int4", "s.duration_seconds"),
    ("text", "text", "s.text"),
    ("breadcrumb_trail", "text", "left(s.breadcrumb_trail, 1000)"),
    ("external_task_id", "text", "left(s.external_task_id, 1000)"),
    ("updated_at", "timestamptz", "s.updated_at"),
)
#: The staged tasks also carry their number in the batch (the source of their ids when inserted plainly), and
#: assignees the number of their task, so that a plain insert needs no join to give assignees their task's id.
_TASK_STAGE_DEFINITION = (*_TASK_STAGE_COLUMNS, ("number", "int4"))
_ASSIGNEE_STAGE_COLUMNS = (
    ("external_id", "text"), ("task_number", "int4"), ("external_username", "text"), ("user_id", "uuid")
)  # fmt: skip
_USERNAME_LENGTH = TaskAssignee._meta.get_field("external_username").max_length


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


# --- primary keys made in SQL -----------------------------------------------------------------------------------

_id_lock = threading.Lock()
_id_last_milliseconds = 0
_RANDOM_BITS = 62 - HOST_BITS


def _id_milliseconds(count: int) -> int:
    """The first of the milliseconds reserved for `count` ids (4096 per millisecond, later than any reserved)."""
    global _id_last_milliseconds
    with _id_lock:
        first = max(time.time_ns() // 1_000_000, _id_last_milliseconds + 1)
        _id_last_milliseconds = first + max(count - 1, 0) // 4096
        return first


def _new_id_sql(number: str) -> str:
    """SQL of a UUIDv7 like `siisurit.ids.uuid7` for the 0-based number `number`; parameters from `_id_params`.

    48 bits milliseconds (`id_ms` + number / 4096), version 7, 12 bits counter (number % 4096), then the 64 bits
    variant 0b10, host (15 bits) and random (47 bits), drawn once per statement (`id_tail`, 16 hex digits): the
    milliseconds reserved for the statement and the counter tell its ids apart, and the same number gives the same
    id wherever the statement uses it (an assignee names its task by the task's number in the batch).
    """
    return (
        f"(lpad(to_hex(%(id_ms)s::bigint + {number} / 4096), 12, '0') || '7' || lpad(to_hex({number} %% 4096), 3, '0')"
        " || %(id_tail)s)::uuid"
    )


def _row_number(first: int = 0) -> str:
    """SQL of each row's number in the statement's result, counted from `first` (the `number` of `_new_id_sql`)."""
    return f"(row_number() OVER () - 1 + {first:d})"


def _id_params(count: int) -> dict[str, int | str]:
    """Parameters of `_new_id_sql` for `count` ids."""
    tail = (0b10 << 62) | (settings.SII_UUID_HOST << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)
    return {"id_ms": _id_milliseconds(count), "id_tail": f"{tail:016x}"}


# --- staging ----------------------------------------------------------------------------------------------------


def _stages_create(cursor, *stages: tuple[str, Iterable[tuple[str, ...]]], durable: bool = True) -> None:
    """Temporary tables (name, columns) of this session, in one round trip; created once, emptied by every commit.
    Not `durable`: this transaction's commit does not wait for its WAL to reach the disk (see `tracker_tasks_upsert`).

    `ON COMMIT DELETE ROWS` truncates them in place at the end of each batch's transaction (no WAL): a `DELETE` per
    batch cost a statement, left the rows dead for every later scan and COPY (temporary tables are never vacuumed),
    and the tables grew for as long as the session lived. Inside an outer transaction (a savepoint: tests) nothing
    commits between batches, so they are emptied by `DELETE` there.
    """
    emptied_by_commit = not connection.savepoint_ids  # the outermost atomic block: it commits this batch alone
    statements = [] if durable else ["SET LOCAL synchronous_commit = off"]
    for table, columns in stages:
        definition = ", ".join(f"{column[0]} {column[1]}" for column in columns)
        statements.append(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({definition}) ON COMMIT DELETE ROWS")
        if not emptied_by_commit:
            statements.append(f"DELETE FROM {table}")
    cursor.execute("; ".join(statements))  # no parameters: one simple query with several statements


def _copy_rows(cursor, table: str, columns: Sequence[tuple[str, ...]], rows: Iterable[Sequence]) -> int:
    """Binary COPY: typed values go out as they are, no text formatting of dates and numbers in Python; the number of
    rows."""
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(column[0] for column in columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([column[1] for column in columns])
        write_row = copy.write_row
        for count, row in enumerate(rows, start=1):  # noqa: B007 (returned: the number of rows)
            write_row(row)
    return count


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
        _copy_rows(cursor, _SEEN, (("external_id", "text"),), ((external_id,) for external_id in external_ids))


def _seen_ids_add_staged(cursor, stage: str) -> None:
    cursor.execute(f"INSERT INTO {_SEEN} (external_id) SELECT external_id FROM {stage}")


def seen_ids_end(*, used: bool) -> None:
    """Forget the ids if any were added (the table stays for the next download on this connection)."""
    if used:
        with connection.cursor() as cursor:
            # After a lost connection this runs on a new session without the temporary table: nothing to forget,
            # and an error here would hide the (retryable) error that ended the download.
            cursor.execute("SELECT to_regclass(%s)", [f"pg_temp.{_SEEN}"])
            if cursor.fetchone()[0] is not None:
                cursor.execute(f"TRUNCATE {_SEEN}")


def _insert_select(*, table: str, columns: Sequence[tuple[str, str, str]], extra_insert: dict[str, str],
                   rows: str, number: str = _row_number()) -> str:  # fmt: skip
    """`INSERT INTO table … SELECT …` of the stage rows `rows` (SQL of a relation `s`), with new ids (`_id_params`)
    made from `number` (SQL: each row's own, from 0)."""
    names = [column[0] for column in columns]
    insert_columns = ["id", "tracker_id", *names, *extra_insert]
    select_values = [
        _new_id_sql(number),
        "%(tracker_id)s",
        *(column[2] for column in columns),
        *extra_insert.values(),
    ]
    return f"INSERT INTO {table} ({', '.join(insert_columns)}) SELECT {', '.join(select_values)} FROM {rows}"


def _merge(cursor, *, table: str, stage: str, columns: Sequence[tuple[str, str, str]], after_update: str,
           extra_insert: dict[str, str], tracker_id: UUID, conflict: str, count: int,
           only_new: bool) -> tuple[int, int]:  # fmt: skip
    """Insert the staged rows, updating existing ones only if changed; (created, updated).

    The newest row per external id wins; ids are made for all `count` staged rows but used only for new ones.
    `after_update` is a data-modifying statement run in the same statement (`merged` has `id` and `is_new`).
    With `only_new` the rows are inserted plainly: a row that exists already fails the statement (IntegrityError).
    """
    parameters = {"tracker_id": tracker_id, **_id_params(count)}
    if only_new:
        cursor.execute(
            _insert_select(table=table, columns=columns, extra_insert=extra_insert, rows=f"{stage} s"), parameters
        )
        return cursor.rowcount, 0
    changing = [column[0] for column in columns][1:]
    assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in changing)
    after = f", after_update AS ({after_update})" if after_update else ""
    newest = f"(SELECT DISTINCT ON (external_id) * FROM {stage} ORDER BY external_id, updated_at DESC NULLS LAST) s"
    cursor.execute(
        f"""
        WITH merged AS (
            {_insert_select(table=table, columns=columns, extra_insert=extra_insert, rows=newest)}
            ON CONFLICT {conflict} DO UPDATE SET {assignments}
            WHERE {_changed(table, changing)}
            RETURNING id, (xmax = 0) AS is_new
        ){after}
        SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM merged
        """,
        parameters,
    )
    created, updated = cursor.fetchone()
    return created, updated


def tracker_tasks_upsert(
    *,
    tracker_id: UUID,
    records: Sequence[TaskRecord],
    resolver: UserResolver,
    track_seen: bool = False,
    only_new: bool = False,
    durable: bool = True,
) -> UpsertCounts:
    """Insert new tasks, update changed ones, and make their assignees exactly the downloaded ones.

    With `track_seen`, the records' external ids also go to the seen ids of a complete download; `only_new`: insert
    them plainly, an IntegrityError if one exists already. Not `durable`: the commit does not wait for the disk
    (a server crash may lose it; whatever relies on it being stored waits for a later durable commit).
    """
    if not records:
        return UpsertCounts()
    with connection.cursor() as cursor:
        names = {name for record in records for name in record.assignees if name}
        user_ids = {name: resolver.resolve(name) for name in names}  # once per distinct name
        _stages_create(
            cursor, (_TASK_STAGE, _TASK_STAGE_DEFINITION), (_ASSIGNEE_STAGE, _ASSIGNEE_STAGE_COLUMNS), durable=durable
        )
        _copy_rows(
            cursor,
            _TASK_STAGE,
            _TASK_STAGE_DEFINITION,
            (
                (r.external_id, r.code, r.title, r.state, r.is_closed, r.estimate_hours, r.url, r.created_at,
                 r.updated_at, r.closed_at, number)
                for number, r in enumerate(records)
            ),
        )  # fmt: skip
        if track_seen:
            _seen_ids_add_staged(cursor, _TASK_STAGE)
        assignee_count = _copy_rows(cursor, _ASSIGNEE_STAGE, _ASSIGNEE_STAGE_COLUMNS, _assignee_rows(records, user_ids))
        if only_new:
            # A code that is taken already (by a declared task, or by another task: the same issue under a new
            # external id) fails the statement on the (tracker_id, code) key like an external id that came twice:
            # the caller merges the batch then, which handles both below.
            created = _tasks_insert_with_assignees(
                cursor, tracker_id=tracker_id, count=len(records), assignee_count=assignee_count
            )
            return UpsertCounts(created, 0, len(records) - created)
        # A declared task keeps its code (the staged task is dropped); a downloaded task that took over another
        # one's code replaces it (found from the small stage through the (tracker_id, code) index). One statement:
        # the SELECT sees the staged rows the DELETE drops, but a declared task's code is no other task's.
        cursor.execute(
            f"""
            WITH declared AS (
                DELETE FROM {_TASK_STAGE} s USING {_TASK} t
                WHERE t.tracker_id = %(tracker_id)s AND t.is_declared AND t.code = s.code
            )
            SELECT t.id FROM {_TASK_STAGE} s JOIN {_TASK} t ON t.tracker_id = %(tracker_id)s AND t.code = s.code
            WHERE t.external_id <> s.external_id AND NOT t.is_declared
            """,
            {"tracker_id": tracker_id},
        )
        _tasks_delete([row[0] for row in cursor.fetchall()])
        created, updated = _merge(
            cursor,
            table=_TASK,
            stage=_TASK_STAGE,
            columns=_TASK_STAGE_COLUMNS,
            after_update="",
            extra_insert={"is_declared": "false"},
            tracker_id=tracker_id,
            conflict="(tracker_id, external_id) WHERE external_id <> ''",
            count=len(records),
            only_new=False,
        )
        _assignees_replace(cursor, tracker_id=tracker_id, assignee_count=assignee_count)
    return UpsertCounts(created, updated, len(records) - created - updated)


def _assignee_rows(records: Sequence[TaskRecord], user_ids: dict[str, UUID | None]) -> Iterator[tuple]:
    """Stage rows of the records' assignees: (task's external id, task's number in the batch, name, user); names cut
    to the column's length, each once per task (the first one's user wins)."""
    for number, record in enumerate(records):
        assignees = record.assignees
        if len(assignees) == 1:  # most tasks with assignees: nothing to make unique
            if name := assignees[0]:
                yield record.external_id, number, name[:_USERNAME_LENGTH], user_ids[name]
        elif assignees:
            names: dict[str, UUID | None] = {}
            for name in assignees:
                if name:
                    names.setdefault(name[:_USERNAME_LENGTH], user_ids[name])
            for name, user_id in names.items():
                yield record.external_id, number, name, user_id


def _tasks_insert_with_assignees(cursor, *, tracker_id: UUID, count: int, assignee_count: int) -> int:
    """Insert the staged tasks plainly (the tracker started empty) and their staged assignees, in one statement (one
    round trip; an assignee's task id is made from the task's number, as the task's own, without a join); the number
    of tasks inserted. A task that exists already fails the statement (IntegrityError)."""
    tasks = _insert_select(
        table=_TASK,
        columns=_TASK_STAGE_COLUMNS,
        extra_insert={"is_declared": "false"},
        rows=f"{_TASK_STAGE} s",
        number="s.number",
    )
    cursor.execute(
        f"""
        WITH assigned AS (
            INSERT INTO {_ASSIGNEE} (id, task_id, external_username, user_id)
            SELECT {_new_id_sql(_row_number(first=count))}, {_new_id_sql("n.task_number")},
                n.external_username, n.user_id
            FROM {_ASSIGNEE_STAGE} n
        )
        {tasks}
        """,
        {"tracker_id": tracker_id, **_id_params(count + assignee_count)},  # tasks numbered first, then assignees
    )
    return cursor.rowcount


def _assignees_replace(cursor, *, tracker_id: UUID, assignee_count: int) -> None:
    """Make the assignees of the staged tasks exactly the staged ones (with the users staged beside them)."""
    cursor.execute(
        f"""
        DELETE FROM {_ASSIGNEE} a USING {_TASK} t, {_TASK_STAGE} s
        WHERE a.task_id = t.id AND t.tracker_id = %(tracker_id)s AND t.external_id = s.external_id
          AND NOT EXISTS (
            SELECT 1 FROM {_ASSIGNEE_STAGE} n
            WHERE n.external_id = t.external_id AND n.external_username = a.external_username
          )
        """,
        {"tracker_id": tracker_id},
    )
    # An external id staged twice (merged: the newest record wins) stages its assignees twice: each once here.
    cursor.execute(
        f"""
        INSERT INTO {_ASSIGNEE} (id, task_id, external_username, user_id)
        SELECT {_new_id_sql(_row_number())}, n.task_id, n.external_username, n.user_id
        FROM (
            SELECT DISTINCT ON (t.id, n.external_username) t.id AS task_id, n.external_username, n.user_id
            FROM {_ASSIGNEE_STAGE} n
            JOIN {_TASK} t ON t.tracker_id = %(tracker_id)s AND t.external_id = n.external_id
        ) n
        {_ASSIGNEE_USER_UPDATE}
        """,
        {"tracker_id": tracker_id, **_id_params(assignee_count)},
    )


def tracker_work_entries_upsert(
    *,
    tracker_id: UUID,
    records: Sequence[WorkRecord],
    resolver: UserResolver,
    track_seen: bool = False,
    only_new: bool = False,
    durable: bool = True,
) -> UpsertCounts:
    """Insert new work entries, update changed ones (a changed entry must be matched again: its match's
    matched_at = NULL).

    With `track_seen`, the records' external ids also go to the seen ids of a complete download; `only_new`: insert
    them plainly, an IntegrityError if one exists already. Not `durable`: the commit does not wait for the disk
    (a server crash may lose it; whatever relies on it being stored waits for a later durable commit).
    """
    if not records:
        return UpsertCounts()
    users: dict[tuple[str, str], UUID | None] = {}

    def user_id(username: str, email: str) -> UUID | None:
        key = (username, email)
        if key not in users:
            users[key] = resolver.resolve(username, email)
        return users[key]

    with connection.cursor() as cursor:
        _stages_create(cursor, (_WORK_STAGE, _WORK_STAGE_COLUMNS), durable=durable)
        _copy_rows(
            cursor,
            _WORK_STAGE,
            _WORK_STAGE_COLUMNS,
            (
                (r.external_id, r.external_username, user_id(r.external_username, r.external_email), r.started_at,
                 int(r.duration_seconds), r.text, r.breadcrumb_trail, r.external_task_id, r.updated_at)
                for r in records
            ),
        )  # fmt: skip
        if track_seen:
            _seen_ids_add_staged(cursor, _WORK_STAGE)
        created, updated = _merge(
            cursor,
            table=_WORK,
            stage=_WORK_STAGE,
            columns=_WORK_STAGE_COLUMNS,
            after_update=_UNSTAMP_CHANGED_MATCHES,
            extra_insert={},
            tracker_id=tracker_id,
            conflict="(tracker_id, external_id)",
            count=len(records),
            only_new=only_new,
        )
    return UpsertCounts(created, updated, len(records) - created - updated)


def tracker_is_empty(*, tracker_id: UUID, holds: str) -> bool:
    """Whether the tracker has no downloaded rows (declared tasks do not count)."""
    with connection.cursor() as cursor:
        if holds == "work":
            cursor.execute(f"SELECT NOT EXISTS (SELECT FROM {_WORK} WHERE tracker_id = %s)", [tracker_id])
        else:
            cursor.execute(
                f"SELECT NOT EXISTS (SELECT FROM {_TASK} WHERE tracker_id = %s AND external_id <> '')", [tracker_id]
            )
        return cursor.fetchone()[0]


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
    """Delete tasks through the ORM (rules targeting them are unlinked; PostgreSQL deletes their matches)."""
    deleted = 0
    for start in range(0, len(task_ids), _DELETE_BATCH_SIZE):
        batch = task_ids[start : start + _DELETE_BATCH_SIZE]
        _, per_model = Task.objects.filter(id__in=batch).delete()
        deleted += per_model.get(Task._meta.label, 0)
    return deleted
