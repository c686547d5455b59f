"""Service of the `match_project` job: match all work entries of a project to tasks again."""

from __future__ import annotations

import logging
import time
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from siisurit.errors import PermanentError
from siisurit.jobs import Progress
from siisurit.matching.engine import project_entries_match
from siisurit.matching.lookups import LoadedLookups
from siisurit.matching.project_rules import project_rules
from siisurit.matching.rules import InvalidRule
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
    per rule kind, the number of rules and of invalid rules, and the duration).
    """
    started = time.monotonic()
    project = _project(project_id)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Two matches of the same project must not interleave (the job queue's lock is the first line of defence).
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"siisurit:match:{project.id}"])
        lookups = LoadedLookups()
        rules = project_rules(project_id=str(project.id), lookups=lookups)
        invalid_rules = [rule for rule in rules.rules if isinstance(rule, InvalidRule)]
        for rule in invalid_rules:
            _log.warning(
                "work match %s of tracker %s never applies: %s", rule.work_match_id, rule.row.tracker_name, rule.error
            )
        counts = project_entries_match(rules, progress=progress)
    kind_of_rule = {rule.work_match_id: rule.row.match_on for rule in rules.rules}
    matched_by_kind: Counter[str] = Counter()
    for work_match_id, count in counts.matched_by_rule.items():
        matched_by_kind[kind_of_rule[work_match_id]] += count
    summary = {
        "project": f"{project.organization.code}/{project.code}",
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
    return summary
