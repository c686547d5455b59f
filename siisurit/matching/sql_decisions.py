"""The rules of one work tracker as one PostgreSQL query deciding every entry, where the rules translate exactly.

The query yields `(id, task_id, work_match_id)` for each entry it can decide (NULLs: unmatched). Task lookups are
hash joins on the task tables (smallest id first on duplicate keys, as `task_ids_by`); regular expressions are
PostgreSQL's (`sql_patterns`). Entries whose text needs Python's semantics (non-ASCII text under an ASCII-only
translation) are left out of the query and selected by `python_condition` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from siisurit.matching.rules import TASK_CODE_GROUP, InvalidRule, Rule
from siisurit.matching.sql_patterns import ASCII_WHITESPACE, sql_pattern
from siisurit.models import MatchOn, Task, WorkEntry, WorkEntryMatch

# An entry never matched, unmatched, or changed by a download since its match (an `entry` row in scope).
PENDING = (
    f"NOT EXISTS (SELECT FROM {WorkEntryMatch._meta.db_table} AS stored"
    " WHERE stored.work_entry_id = entry.id AND stored.matched_at IS NOT NULL)"
)
# The pending entries, collected (and ANALYZEd) in a temporary table first: planned on the anti-join's estimate
# (one row, always), the rules' joins would be nested loops over all tasks.
PENDING_TABLE = "siisurit_pending_entries"
IS_PENDING = f"entry.id IN (SELECT id FROM {PENDING_TABLE})"
# The entries are chosen first, then the rules decide (only on the chosen ones): a subquery with OFFSET is not
# flattened into the joins, which also keeps the joins out of parallel workers.
_ENTRIES_FIRST = "OFFSET 0"
_ENTRY_FIELDS = {"text": "text", "breadcrumb_trail": "breadcrumb_trail", "external_task_id": "external_task_id"}


@dataclass(frozen=True)
class SqlDecisions:
    """The query deciding the entries of one work tracker that SQL decides exactly, and what is left to Python."""

    query: str
    params: dict[str, object]
    # Entries of the tracker matching this condition are decided in Python ("FALSE": none).
    python_condition: str


class _UntranslatableError(Exception):
    pass


class _Builder:
    def __init__(self, work_tracker_id: str) -> None:
        self.params: dict[str, object] = {"work_tracker_id": work_tracker_id, "whitespace": ASCII_WHITESPACE}
        self.joins: list[str] = []
        self.task_columns: list[str] = []
        self.conditions: list[str] = []  # per rule: when it applies
        self.tasks: list[str] = []  # per rule: its task id
        self.rule_ids: list[str] = []
        self.ascii_fields: set[str] = set()
        self.external_key = False  # whether the entries carry `external_key` (rules looking up their task by it)

    def parameter(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"

    def pattern_condition(self, field: str, pattern: str) -> str:
        translated = sql_pattern(pattern)
        if translated is None:
            raise _UntranslatableError
        if translated.needs_ascii:
            self.ascii_fields.add(field)
        return f"entry.{_ENTRY_FIELDS[field]} ~ {self.parameter(translated.regex)}"

    def task_join(self, task_tracker_id: str, task_field: str, key_sql: str) -> tuple[str, str]:
        """A join of the tasks by `task_field` = `key_sql`: its condition (a task found) and its task id column."""
        alias = f"task_{len(self.joins)}"
        # DISTINCT ON also keeps the subquery from being flattened into the join. Codes and external ids are unique
        # per tracker, but without it the planner's choices made a first match of 1,000,000 entries in
        # bench/matching.py 8.0-8.9 s instead of 6.1-6.9 (the sorts it saves cost about 0.1 s there).
        self.joins.append(
            f"LEFT JOIN (SELECT DISTINCT ON ({task_field}) {task_field} AS key, id FROM {Task._meta.db_table}"
            f" WHERE tracker_id = {self.parameter(task_tracker_id)} AND {task_field} <> ''"
            f" ORDER BY {task_field}, id) AS {alias} ON {alias}.key = {key_sql}"
        )
        self.task_columns.append(f"{alias}.id AS {alias}_id")
        return f"{alias}.id IS NOT NULL", f"{alias}_id"

    def add(self, rule: Rule) -> None:
        row = rule.row
        conditions: list[str] = []
        task: str
        match row.match_on:
            case MatchOn.ALWAYS_TO_TASK:
                task = f"{self.parameter(row.target_task_id)}::uuid"
            case MatchOn.EXTERNAL_TASK_ID_TO_TASK_EXTERNAL_ID | MatchOn.EXTERNAL_TASK_ID_TO_TASK_URL:
                self.ascii_fields.add("external_task_id")  # str.strip()
                task_field = "external_id" if row.match_on == MatchOn.EXTERNAL_TASK_ID_TO_TASK_EXTERNAL_ID else "url"
                self.external_key = True
                found, task = self.task_join(row.tracker_id, task_field, "entry.external_key")
                conditions.append(found)
            case MatchOn.PATTERN_TO_TASK:
                task = f"{self.parameter(row.target_task_id)}::uuid"
                conditions.extend(self._patterns(row.text_pattern, row.breadcrumb_trail_pattern, code_field=None))
            case MatchOn.PATTERN_TO_TASK_CODE:
                code_field = "text" if f"(?P<{TASK_CODE_GROUP}>" in row.text_pattern else "breadcrumb_trail"
                code_pattern = row.text_pattern if code_field == "text" else row.breadcrumb_trail_pattern
                translated = sql_pattern(code_pattern, extracts_code=True)
                if translated is None:
                    raise _UntranslatableError
                self.ascii_fields.add(code_field)
                code = f"btrim(substring(entry.{code_field} from {self.parameter(translated.regex)}), %(whitespace)s)"
                found, task = self.task_join(row.tracker_id, "code", code)
                conditions.append(found)
                conditions.extend(self._patterns(row.text_pattern, row.breadcrumb_trail_pattern, code_field=code_field))
            case _:
                raise _UntranslatableError
        self.conditions.append(" AND ".join(conditions) or "TRUE")
        self.tasks.append(task)
        self.rule_ids.append(row.id)

    def _patterns(self, text_pattern: str, breadcrumb_pattern: str, *, code_field: str | None) -> list[str]:
        return [
            self.pattern_condition(field, pattern)
            for field, pattern in (("text", text_pattern), ("breadcrumb_trail", breadcrumb_pattern))
            if pattern and field != code_field
        ]

    def decisions(self, only_pending: bool, parallel: bool) -> SqlDecisions:
        # ASCII text: as many bytes as characters (written as an inequality, which the planner estimates sensibly).
        non_ascii = [f"octet_length(entry.{field}) > char_length(entry.{field})" for field in sorted(self.ascii_fields)]
        if self.conditions:
            winner = " ".join(f"WHEN {condition} THEN {n}" for n, condition in enumerate(self.conditions, start=1))
            winner = f"CASE {winner} END"
            task = " ".join(f"WHEN {n} THEN {task}" for n, task in enumerate(self.tasks, start=1))
            task = f"CASE winner {task} END"
        else:
            winner, task = "NULL::int", "NULL::uuid"
        self.params["rule_ids"] = self.rule_ids
        # Stripped once for all the rules looking it up; NULL when empty, as no task's key is: the hash joins pass
        # such entries (most of them) without hashing or probing.
        external_key = ""
        if self.external_key:
            external_key = ", NULLIF(btrim(external_task_id, %(whitespace)s), '') AS external_key"
        query = f"""
            SELECT id, {task} AS task_id, (%(rule_ids)s::uuid[])[winner] AS work_match_id FROM (
                SELECT {", ".join(["entry.id", *self.task_columns, f"{winner} AS winner"])}
                FROM (
                    SELECT id, text, breadcrumb_trail{external_key} FROM {WorkEntry._meta.db_table} AS entry
                    WHERE entry.tracker_id = %(work_tracker_id)s {"".join(f" AND NOT {c}" for c in non_ascii)}
                    {f"AND {IS_PENDING}" if only_pending else ""}
                    {"" if parallel else _ENTRIES_FIRST}
                ) AS entry {" ".join(self.joins)}
            ) AS decided
        """
        python_condition = " OR ".join(non_ascii) or "FALSE"
        return SqlDecisions(query=query, params=self.params, python_condition=python_condition)


def sql_decisions(
    rules: Sequence[Rule], work_tracker_id: str, *, only_pending: bool, parallel: bool = False
) -> SqlDecisions | None:
    """The query deciding the tracker's entries by `rules` (in evaluation order), None if a rule needs Python.

    With `only_pending`, only the entries in `PENDING_TABLE`. With `parallel` (all entries, in a statement of their
    own), the entries are not chosen apart from the rules' joins: PostgreSQL may then scan and join in parallel.
    """
    if parallel and only_pending:
        raise ValueError("parallel decisions are for all entries, not the pending ones")
    builder = _Builder(work_tracker_id)
    try:
        for rule in rules:
            # An invalid rule never applies, nor does one stopped in this run (its pattern timed out in Python).
            if not isinstance(rule, InvalidRule) and rule.failure is None:
                builder.add(rule)
    except _UntranslatableError:
        return None
    return builder.decisions(only_pending, parallel)
