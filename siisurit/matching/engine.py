"""Set-based matching of all work entries of a project.

Matches live in their own narrow table (`WorkEntryMatch`: entry, task, rule, when; no row: unmatched), so a match
writes only what changed, never the wide work entry rows. Per work tracker, the rules are decided by one PostgreSQL
query where they translate exactly (`sql_decisions`); the entries left (rules or text needing Python's regular
expressions) are streamed through a server-side cursor, decided in Python (`rules.first_match`) and COPYed into a
temporary table. One statement per source then compares the decisions with the stored matches and writes the
differences: new and changed matches, deleted matches of entries now unmatched, and `matched_at` again for matched
entries a download changed since (marked by `matched_at` NULL). In a large project (`PARALLEL_DECISIONS_FROM`) a
complete pass is decided into a table of its own first, by a statement PostgreSQL may run in parallel.

Which entries are decided: all of them when the tracker's rules or the tasks they look up changed since the last
match (`WorkMatchState`); otherwise only the pending ones (`PENDING`: new, unmatched, or changed by a download).
Removing a rule deletes its matches with it (migration work_entry_matches), so only the entries it had matched are
pending; a rule that no longer applies to a tracker has its matches there deleted first. A re-run with nothing to change
decides nothing and writes nothing."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection
from psycopg.types.json import Jsonb

from siisurit.jobs import Progress
from siisurit.matching.project_rules import ProjectRules
from siisurit.matching.rules import Rule, first_match
from siisurit.matching.sql_decisions import IS_PENDING, PENDING, PENDING_TABLE, SqlDecisions, sql_decisions
from siisurit.models import Task, WorkEntry, WorkEntryMatch, WorkMatchState

CHUNK_SIZE = 20_000
# From this many entries in a project, the complete pass over a work tracker is decided by a statement of its own,
# `CREATE TABLE AS`, which PostgreSQL may run in parallel (a statement that writes never is), before the differences
# are written from its table: 1,000,000 entries 4.6-5.7 → 3.9-4.7 s on 2 cores. Below it, the extra statement and
# table cost more than the second core gains (100,000 entries 0.58 → 0.67 s).
PARALLEL_DECISIONS_FROM = 200_000
SQL_DECISIONS_TABLE = "siisurit_sql_decisions"
# The ids of pending entries held in memory between reading and writing them (about 1.5 million), then on disk.
PENDING_IN_MEMORY = 32 * 1024 * 1024
_COPY_BLOCK = 1024 * 1024
ANALYZE_AFTER_CHANGES = 10_000
RESULT_TABLE = "siisurit_match_result"
# Enough for the decisions of a million entries and the comparison's hash join to stay in memory (this transaction).
WORK_MEM = "256MB"
_MATCH = WorkEntryMatch._meta.db_table
_STATE = WorkMatchState._meta.db_table
# Set for a transaction whose match writes need no key check (migration work_entry_matches's trigger skips it).
KEYS_CHECKED_SETTING = "siisurit.match_keys_checked"

_SELECT_ENTRIES = f"""
    SELECT id::text, text, breadcrumb_trail, external_task_id
    FROM {WorkEntry._meta.db_table} AS entry
    WHERE tracker_id = %(work_tracker_id)s AND ({{condition}})
"""

# Compares decisions `(id, task_id, work_match_id)` with the stored matches and writes the differences (plain
# INSERTs for new matches: the project's advisory lock keeps other matches out); returns the entries decided, the
# matches deleted and the matches changed.
_WRITE_DIFFERENCES = f"""
    WITH decided AS MATERIALIZED ({{decisions}}),
    unmatched AS (
        DELETE FROM {_MATCH} AS stored USING decided
        WHERE stored.work_entry_id = decided.id AND decided.task_id IS NULL
        RETURNING 1
    ),
    differing AS MATERIALIZED (
        SELECT decided.id, decided.task_id, decided.work_match_id, stored.work_entry_id IS NULL AS is_new,
            stored.work_entry_id IS NULL OR stored.task_id <> decided.task_id
                OR stored.work_match_id IS DISTINCT FROM decided.work_match_id AS changed
        FROM decided LEFT JOIN {_MATCH} AS stored ON stored.work_entry_id = decided.id
        WHERE decided.task_id IS NOT NULL AND (
            stored.work_entry_id IS NULL OR stored.task_id <> decided.task_id
            OR stored.work_match_id IS DISTINCT FROM decided.work_match_id OR stored.matched_at IS NULL
        )
    ),
    inserted AS (
        INSERT INTO {_MATCH} (work_entry_id, task_id, work_match_id, matched_at)
        SELECT id, task_id, work_match_id, now() FROM differing WHERE is_new
    ),
    updated AS (
        UPDATE {_MATCH} AS stored
        SET task_id = differing.task_id, work_match_id = differing.work_match_id, matched_at = now()
        FROM differing WHERE NOT differing.is_new AND stored.work_entry_id = differing.id
    )
    SELECT
        (SELECT count(*) FROM decided),
        (SELECT count(*) FROM unmatched),
        (SELECT count(*) FROM differing WHERE changed)
"""


@dataclass
class MatchCounts:
    entries: int = 0
    matched: int = 0
    changed: int = 0
    matched_by_rule: Counter[str] = field(default_factory=Counter)
    decided: int = 0
    decided_in_python: int = 0

    @property
    def unmatched(self) -> int:
        return self.entries - self.matched


def _entry_count(cursor, tracker_ids: list[str]) -> int:
    cursor.execute(f"SELECT count(*) FROM {WorkEntry._meta.db_table} WHERE tracker_id = ANY(%s::uuid[])", [tracker_ids])
    return cursor.fetchone()[0]


def _write(cursor, decisions: str, params: dict | None, counts: MatchCounts) -> None:
    cursor.execute(_WRITE_DIFFERENCES.replace("{decisions}", decisions), params)
    decided, unmatched, changed = cursor.fetchone()
    counts.decided += decided
    counts.changed += unmatched + changed


def _write_decided_apart(cursor, decisions: SqlDecisions, counts: MatchCounts) -> None:
    """Decide into `SQL_DECISIONS_TABLE` by one (parallel) statement, then write the differences from it."""
    cursor.execute(f"DROP TABLE IF EXISTS {SQL_DECISIONS_TABLE}")
    create = f"CREATE TEMPORARY TABLE {SQL_DECISIONS_TABLE} ON COMMIT DROP AS {decisions.query}"
    cursor.execute(create, decisions.params)
    cursor.execute(f"ANALYZE {SQL_DECISIONS_TABLE}")
    _write(cursor, f"SELECT id, task_id, work_match_id FROM {SQL_DECISIONS_TABLE}", None, counts)
    cursor.execute(f"DROP TABLE {SQL_DECISIONS_TABLE}")


def _decide_in_python(raw, cursor, rules, tracker_id: str, condition: str, counts: MatchCounts) -> None:
    """COPY the decisions of the tracker's entries matching `condition` into the result table."""
    with raw.cursor(name="siisurit_work_entries_to_match") as entries:
        entries.itersize = CHUNK_SIZE
        entries.execute(_SELECT_ENTRIES.replace("{condition}", condition), {"work_tracker_id": tracker_id})
        while chunk := entries.fetchmany(CHUNK_SIZE):
            rows = []
            for entry_id, text, breadcrumb, external_task_id in chunk:
                result = first_match(rules, text, breadcrumb, external_task_id) if rules else None
                # Rows are COPY text lines: ids are UUID strings and NULL is \N, nothing needs escaping.
                rows.append(f"{entry_id}\t{result[0]}\t{result[1]}\n" if result else f"{entry_id}\t\\N\t\\N\n")
            with cursor.copy(f"COPY {RESULT_TABLE} (id, task_id, work_match_id) FROM STDIN") as copy:
                copy.write("".join(rows))
            counts.decided_in_python += len(chunk)


def _rule_fingerprints(rules: Sequence[Rule]) -> list[str]:
    """What decides each rule's answers; a rule stopped in this run (pattern timeout) differs from itself running."""
    return [
        "|".join(
            [rule.row.id, rule.row.match_on, rule.row.target_task_id or "", rule.row.text_pattern,
             rule.row.breadcrumb_trail_pattern, "stopped" if rule.failure is not None else ""]
        )
        for rule in rules
    ]  # fmt: skip


def _tasks_fingerprint(cursor, rules: Sequence[Rule]) -> str:
    """Changes with any task's id, code, external id or URL in the trackers the rules look tasks up in."""
    cursor.execute(
        f"""
        SELECT count(*) || ':' || coalesce(sum(hashtextextended(concat_ws('|', id, code, external_id, url), 0)), 0)
        FROM {Task._meta.db_table} WHERE tracker_id = ANY(%s::uuid[])
        """,
        [sorted({rule.row.tracker_id for rule in rules})],
    )
    return cursor.fetchone()[0]


def _only_pending(cursor, tracker_id: str, rules: list[str], tasks: str) -> bool:
    """Whether the stored matches still hold for all but the pending entries (dropped rules' matches deleted)."""
    cursor.execute(f"SELECT rules::text, tasks FROM {_STATE} WHERE work_tracker_id = %s", [tracker_id])
    stored = cursor.fetchone()
    if stored is None or stored[1] != tasks:
        return False
    stored_rules = json.loads(stored[0])
    remaining = iter(stored_rules)
    if not all(rule in remaining for rule in rules):  # the rules are the stored ones, in order, or some of them
        return False
    dropped = [fingerprint.split("|", 1)[0] for fingerprint in set(stored_rules) - set(rules)]
    if dropped:
        cursor.execute(
            f"""
            DELETE FROM {_MATCH} AS stored USING {WorkEntry._meta.db_table} AS entry
            WHERE stored.work_match_id = ANY(%s::uuid[]) AND entry.id = stored.work_entry_id
              AND entry.tracker_id = %s
            """,
            [dropped, tracker_id],
        )
    return True


def _pending_collect(cursor, tracker_id: str) -> None:
    """The tracker's pending entries into `PENDING_TABLE` (analyzed).

    Read by `COPY (SELECT ...) TO`, which PostgreSQL may run in parallel (an `INSERT ... SELECT` never does: the
    anti-join over a million matched entries 0.8 → 0.4 s on 2 cores), and copied back in binary: about 22 bytes per
    id, a few normally, at most the tracker's entries (in memory up to `PENDING_IN_MEMORY`, then in a temporary file).
    """
    cursor.execute(f"DELETE FROM {PENDING_TABLE}")
    select = f"SELECT id FROM {WorkEntry._meta.db_table} AS entry WHERE tracker_id = %s AND {PENDING}"
    with tempfile.SpooledTemporaryFile(max_size=PENDING_IN_MEMORY) as pending:
        with cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT binary)", [tracker_id]) as copy:
            for block in copy:
                pending.write(block)
        pending.seek(0)
        with cursor.copy(f"COPY {PENDING_TABLE} FROM STDIN (FORMAT binary)") as copy:
            while block := pending.read(_COPY_BLOCK):
                copy.write(block)
    cursor.execute(f"ANALYZE {PENDING_TABLE}")


def _state_save(cursor, tracker_id: str, rules: list[str], tasks: str) -> None:
    cursor.execute(
        f"""
        INSERT INTO {_STATE} (work_tracker_id, rules, tasks) VALUES (%s, %s, %s)
        ON CONFLICT (work_tracker_id) DO UPDATE SET rules = EXCLUDED.rules, tasks = EXCLUDED.tasks
        """,
        [tracker_id, Jsonb(rules), tasks],
    )


def _counts_of_stored(cursor, project_rules: ProjectRules, counts: MatchCounts) -> None:
    rule_ids = [rule.work_match_id for rule in project_rules.rules]
    cursor.execute(
        f"SELECT work_match_id::text, count(*) FROM {_MATCH} WHERE work_match_id = ANY(%s::uuid[]) GROUP BY 1",
        [rule_ids],
    )
    counts.matched_by_rule = Counter(dict(cursor.fetchall()))
    counts.matched = sum(counts.matched_by_rule.values())


def project_entries_match(project_rules: ProjectRules, *, progress: Progress | None = None) -> MatchCounts:
    """Match every work entry of the project's trackers; call inside `transaction.atomic()`."""
    counts = MatchCounts()
    connection.ensure_connection()
    raw = connection.connection  # psycopg 3: server-side cursors and COPY
    with raw.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        # Every id this engine writes comes from a join with its row in the same statement: the keys' check of the
        # written rows (an anti-join per key, migration work_entry_matches) would only repeat it.
        cursor.execute(f"SET LOCAL {KEYS_CHECKED_SETTING} = 'on'")
        _match(raw, cursor, project_rules, counts, progress)
        # Only for this engine's statements, even inside a longer transaction (a failure rolls the setting back).
        cursor.execute(f"SET LOCAL {KEYS_CHECKED_SETTING} = 'off'")
    return counts


def _match(raw, cursor, project_rules: ProjectRules, counts: MatchCounts, progress: Progress | None) -> None:
    """Decide the entries of each work tracker (all or the pending ones) and write the differences."""
    total = counts.entries = _entry_count(cursor, project_rules.tracker_ids)
    cursor.execute(f"DROP TABLE IF EXISTS {RESULT_TABLE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {RESULT_TABLE} (id uuid NOT NULL, task_id uuid, work_match_id uuid) ON COMMIT DROP"
    )
    cursor.execute(f"DROP TABLE IF EXISTS {PENDING_TABLE}")
    cursor.execute(f"CREATE TEMPORARY TABLE {PENDING_TABLE} (id uuid PRIMARY KEY) ON COMMIT DROP")
    if progress:
        progress(0, total, "matching work entries")
    for tracker_id in project_rules.tracker_ids:
        rules = project_rules.for_work_tracker(tracker_id)
        rule_fingerprints, tasks = _rule_fingerprints(rules), _tasks_fingerprint(cursor, rules)
        only_pending = _only_pending(cursor, tracker_id, rule_fingerprints, tasks)
        if only_pending:
            _pending_collect(cursor, tracker_id)
        parallel = not only_pending and total >= PARALLEL_DECISIONS_FROM
        in_sql = sql_decisions(rules, tracker_id, only_pending=only_pending, parallel=parallel)
        if in_sql is not None and parallel:
            _write_decided_apart(cursor, in_sql, counts)
        elif in_sql is not None:
            _write(cursor, in_sql.query, in_sql.params, counts)
        python_condition = in_sql.python_condition if in_sql is not None else "TRUE"
        if python_condition != "FALSE":
            condition = f"({python_condition}) AND {IS_PENDING}" if only_pending else python_condition
            _decide_in_python(raw, cursor, rules, tracker_id, condition, counts)
        _state_save(cursor, tracker_id, rule_fingerprints, tasks)
        if progress:
            progress(counts.decided + counts.decided_in_python, total, "matching work entries")
    if counts.decided_in_python:
        cursor.execute(f"ANALYZE {RESULT_TABLE}")
        _write(cursor, f"SELECT id, task_id, work_match_id FROM {RESULT_TABLE}", None, counts)
    cursor.execute(f"DROP TABLE {RESULT_TABLE}")
    cursor.execute(f"DROP TABLE {PENDING_TABLE}")
    if counts.changed > max(ANALYZE_AFTER_CHANGES, total // 10):
        # Fresh statistics for the next match's choice of pending entries (an anti-join that must not be planned
        # against a table believed empty), without waiting for autovacuum.
        cursor.execute(f"ANALYZE {_MATCH}")
    _counts_of_stored(cursor, project_rules, counts)
