"""Set-based matching of all work entries of a project.

Entries are streamed tracker by tracker through a server-side cursor (only the columns the rules need), decided in
Python with precompiled rules and dict lookups, and only entries whose result differs from the stored one are
COPYed into a temporary table; one UPDATE … FROM then writes them. Memory stays flat (one chunk at a time), cost
grows linearly, and a re-match after a rule change touches exactly the entries whose result changed (plus matched
entries a download changed since, marked by `matched_at` NULL, which get their `matched_at` again).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import connection

from siisurit.jobs import Progress
from siisurit.matching.project_rules import ProjectRules
from siisurit.matching.rules import first_match
from siisurit.models import WorkEntry

CHUNK_SIZE = 20_000
RESULT_TABLE = "siisurit_match_result"
# Enough for the UPDATE's hash join over a million changed entries to stay in memory (this transaction only).
WORK_MEM = "128MB"

_SELECT_ENTRIES = f"""
    SELECT id::text, text, breadcrumb_trail, external_task_id, task_id::text, work_match_id::text,
        matched_at IS NULL
    FROM {WorkEntry._meta.db_table}
    WHERE tracker_id = %s
"""

_UPDATE_CHANGED = f"""
    UPDATE {WorkEntry._meta.db_table} AS entry
    SET task_id = result.task_id,
        work_match_id = result.work_match_id,
        matched_at = CASE WHEN result.task_id IS NULL THEN NULL ELSE now() END
    FROM {RESULT_TABLE} AS result
    WHERE entry.id = result.id
      AND (
        entry.task_id IS DISTINCT FROM result.task_id
        OR entry.work_match_id IS DISTINCT FROM result.work_match_id
        OR (entry.matched_at IS NULL AND result.task_id IS NOT NULL)
      )
"""


@dataclass
class MatchCounts:
    entries: int = 0
    matched: int = 0
    changed: int = 0
    matched_by_rule: Counter[str] = field(default_factory=Counter)

    @property
    def unmatched(self) -> int:
        return self.entries - self.matched


def _copy_results(cursor, rows: list[str]) -> None:
    # Rows are preformatted COPY text lines: ids are UUID strings and NULL is \N, nothing needs escaping.
    with cursor.copy(f"COPY {RESULT_TABLE} (id, task_id, work_match_id) FROM STDIN") as copy:
        copy.write("".join(rows))


def _entry_count(cursor, tracker_ids: list[str]) -> int:
    cursor.execute(f"SELECT count(*) FROM {WorkEntry._meta.db_table} WHERE tracker_id = ANY(%s::uuid[])", [tracker_ids])
    return cursor.fetchone()[0]


def project_entries_match(project_rules: ProjectRules, *, progress: Progress | None = None) -> MatchCounts:
    """Match every work entry of the project's trackers; call inside `transaction.atomic()`."""
    counts = MatchCounts()
    connection.ensure_connection()
    raw = connection.connection  # psycopg 3: server-side cursors and COPY
    with raw.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        total = _entry_count(cursor, project_rules.tracker_ids)
        cursor.execute(f"DROP TABLE IF EXISTS {RESULT_TABLE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {RESULT_TABLE} (id uuid NOT NULL, task_id uuid, work_match_id uuid) ON COMMIT DROP"
        )
        if progress:
            progress(0, total, "matching work entries")
        for tracker_id in project_rules.tracker_ids:
            rules = project_rules.for_work_tracker(tracker_id)
            with raw.cursor(name="siisurit_work_entries_to_match") as entries:
                entries.itersize = CHUNK_SIZE
                entries.execute(_SELECT_ENTRIES, [tracker_id])
                while chunk := entries.fetchmany(CHUNK_SIZE):
                    changed_rows = []
                    for entry_id, text, breadcrumb, external_task_id, old_task_id, old_match_id, unstamped in chunk:
                        result = first_match(rules, text, breadcrumb, external_task_id) if rules else None
                        if result is None:
                            if old_task_id is not None or old_match_id is not None:
                                changed_rows.append(f"{entry_id}\t\\N\t\\N\n")
                                counts.changed += 1
                            continue
                        task_id, work_match_id = result
                        counts.matched_by_rule[work_match_id] += 1
                        if task_id != old_task_id or work_match_id != old_match_id:
                            changed_rows.append(f"{entry_id}\t{task_id}\t{work_match_id}\n")
                            counts.changed += 1
                        elif unstamped:
                            # Same match, but a download changed the entry since (matched_at = NULL): confirm it.
                            changed_rows.append(f"{entry_id}\t{task_id}\t{work_match_id}\n")
                    counts.entries += len(chunk)
                    if changed_rows:
                        _copy_results(cursor, changed_rows)
                    if progress:
                        progress(counts.entries, total, "matching work entries")
        counts.matched = sum(counts.matched_by_rule.values())
        if progress:
            progress(counts.entries, total, "writing changed matches")
        cursor.execute(f"ANALYZE {RESULT_TABLE}")
        cursor.execute(_UPDATE_CHANGED)
        cursor.execute(f"DROP TABLE {RESULT_TABLE}")
    return counts
