"""Service of the `match_project` job: match all work entries of a project to tasks again."""

from __future__ import annotations

import logging
import time
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from psycopg.errors import QueryCanceled

from siisurit.errors import PermanentError
from siisurit.jobs import Progress
from siisurit.matching.bounds import statement_timeout_message, statement_timeout_set
from siisurit.matching.engine import MatchCounts, project_entries_match
from siisurit.matching.lookups import LoadedLookups
from siisurit.matching.project_rules import ProjectRules, project_rules
from siisurit.matching.rules import InvalidRule, Rule
from siisurit.models import Project

_log = logging.getLogger(__name__)


def _project(project_id: str) -> Project:
    try:
        return Project.objects.select_related("organization").get(id=project_id)
    except (Project.DoesNotExist, ValidationError, ValueError):
        raise PermanentError(f"project {project_id} does not exist") from None


def project_match(*, project_id: str, progress: Progress | None = None) -> dict:
    """Match every work entry of the project's trackers by the project's work match rules.

    Writes only entries whose result changed. Returns counts: entries, matched, unmatched, changed (plus matches
    per rule kind, the number of rules and of invalid rules, and the duration). A rule whose pattern runs past its
    time bound is left out and the project matched again without it; the other rules' matches are committed, then
    PermanentError names the rule and its line in the organization file.
    """
    started = time.monotonic()
    project = _project(project_id)
    label = f"{project.organization.code}/{project.code}"
    stopped_rules: list[Rule] = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            statement_timeout_set(cursor)
            # Two matches of the same project must not interleave (the job queue's lock is the first line of defence).
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"siisurit:match:{project.id}"])
        lookups = LoadedLookups()
        rules = project_rules(project_id=str(project.id), lookups=lookups)
        invalid_rules = [rule for rule in rules.rules if isinstance(rule, InvalidRule)]
        for rule in invalid_rules:
            _log.warning(
                "work match %s of tracker %s never applies: %s", rule.work_match_id, rule.row.tracker_name, rule.error
            )
        counts = _matched_without_stopped_rules(rules, stopped_rules, label, progress)
    kind_of_rule = {rule.work_match_id: rule.row.match_on for rule in rules.rules}
    matched_by_kind: Counter[str] = Counter()
    for work_match_id, count in counts.matched_by_rule.items():
        matched_by_kind[kind_of_rule[work_match_id]] += count
    summary = {
        "project": label,
        "entries": counts.entries,
        "matched": counts.matched,
        "unmatched": counts.unmatched,
        "changed": counts.changed,
        "matched_by_kind": dict(sorted(matched_by_kind.items())),
        "rules": len(rules.rules),
        "invalid_rules": len(invalid_rules),
        "duration_seconds": round(time.monotonic() - started, 3),
    }
    _log.info("matched project %s: %s", summary["project"], summary)
    if stopped_rules:
        failures = "; ".join(f"{rule.row.label}: {rule.failure}" for rule in stopped_rules)
        matched = f"{counts.matched} of {counts.entries} work entries matched by the other rules"
        raise PermanentError(f"project {label}: {matched}, but {failures}")
    return summary


def _matched_without_stopped_rules(
    rules: ProjectRules, stopped_rules: list[Rule], label: str, progress: Progress | None
) -> MatchCounts:
    """Match; if a rule stopped half way (pattern timeout), undo the pass and match again without it."""
    while True:
        savepoint = transaction.savepoint()
        try:
            counts = project_entries_match(rules, progress=progress)
        except (OperationalError, QueryCanceled) as error:
            # The engine's raw cursor raises psycopg's error, Django's cursors wrap it.
            if isinstance(error, QueryCanceled) or isinstance(error.__cause__, QueryCanceled):
                raise PermanentError(statement_timeout_message(label)) from None
            raise
        newly_stopped = [rule for rule in rules.rules if rule.failure is not None and rule not in stopped_rules]
        if not newly_stopped:
            transaction.savepoint_commit(savepoint)
            return counts
        for rule in newly_stopped:
            _log.warning("%s stopped: %s", rule.row.label, rule.failure)
        stopped_rules.extend(newly_stopped)
        # Stopped rules now decide "no match" at once: the next pass is consistent for every entry.
        transaction.savepoint_rollback(savepoint)
