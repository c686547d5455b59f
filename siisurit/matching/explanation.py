"""Why a work entry is (not) matched: the entry, its user mapping, every rule in evaluation order, the result.

Rules decide with the same code as the engine (`siisurit.matching.rules`); only the task lookups differ (one query
per key here, dicts loaded at once in the engine).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet

from siisurit.matching.lookups import QueryLookups
from siisurit.matching.project_rules import ProjectRules, project_rules
from siisurit.matching.rules import Decision, Reason, Rule, rule_decisions
from siisurit.matching.user_mapping_explanation import UserMappingExplainer
from siisurit.models import MatchOn, Task, Tracker, WorkEntry, WorkEntryMatch

_OUTCOMES = {
    Reason.MATCHED: "matched",
    Reason.SOURCE_TRACKER_NOT_LISTED: "skipped",
    Reason.NOT_TRIED_EARLIER_RULE_MATCHED: "not_tried",
}


def explained_work_entries() -> QuerySet[WorkEntry]:
    """Work entries with everything an explanation reads, never the tracker's token."""
    return WorkEntry.objects.select_related(
        "tracker__project__organization", "tracker__user_mapping", "user", "match"
    ).defer("tracker__api_token", "tracker__download_state")


def stored_match(entry: WorkEntry) -> WorkEntryMatch | None:
    """The entry's stored match, None if it is unmatched."""
    try:
        return entry.match
    except WorkEntryMatch.DoesNotExist:
        return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class WorkEntryExplainer:
    """Explains work entries, caching rules, tasks and trackers per project across entries."""

    def __init__(self) -> None:
        self._lookups = QueryLookups()
        self._rules: dict[str, ProjectRules] = {}
        self._tracker_names: dict[str, str] = {}
        self._tasks: dict[str, dict | None] = {}
        self._users = UserMappingExplainer()

    def explanations(self, entries: Iterable[WorkEntry]) -> Iterable[dict]:
        for entry in entries:
            yield self.explanation(entry)

    def explanation(self, entry: WorkEntry) -> dict:
        tracker_id = str(entry.tracker_id)
        rules = self._project_rules(str(entry.tracker.project_id))
        evaluated = []
        final: tuple[Rule, Decision] | None = None
        for rule, decision in rule_decisions(
            rules.rules, tracker_id, entry.text, entry.breadcrumb_trail, entry.external_task_id
        ):
            evaluated.append(self._rule_explanation(rule, decision, tracker_id))
            if decision[0] is not None:
                final = rule, decision
        computed_task_id, computed_work_match_id = (final[1][0], final[0].work_match_id) if final else (None, None)
        stored = stored_match(entry)
        stored_task_id = str(stored.task_id) if stored else None
        stored_work_match_id = str(stored.work_match_id) if stored and stored.work_match_id else None
        agrees = (computed_task_id, computed_work_match_id) == (stored_task_id, stored_work_match_id)
        return {
            "work_entry": self._entry(entry),
            "user_mapping": self._users.explanation(entry),
            "work_matches": evaluated,
            "match": {
                "task": self._task(computed_task_id),
                "work_match": computed_work_match_id,
                "detail": self._final_detail(final, rules, tracker_id),
            },
            "stored_match": {
                "task": self._task(stored_task_id),
                "work_match": stored_work_match_id,
                "matched_at": _iso(stored.matched_at) if stored else None,
                "agrees": agrees,
                "detail": "as computed above" if agrees else "out of date: run match_project to update it",
            },
        }

    def _project_rules(self, project_id: str) -> ProjectRules:
        if project_id not in self._rules:
            self._rules[project_id] = project_rules(project_id=project_id, lookups=self._lookups)
            for tracker_id, name in Tracker.objects.filter(project_id=project_id).values_list("id", "name"):
                self._tracker_names[str(tracker_id)] = name
        return self._rules[project_id]

    def _task(self, task_id: str | None) -> dict | None:
        if task_id is None:
            return None
        if task_id not in self._tasks:
            task = (
                Task.objects.filter(id=task_id)
                .select_related("tracker")
                .only("id", "code", "title", "url", "tracker__name")
                .first()
            )
            self._tasks[task_id] = (
                {"id": task_id, "code": task.code, "title": task.title, "tracker": task.tracker.name, "url": task.url}
                if task
                else {"id": task_id}
            )
        return self._tasks[task_id]

    @staticmethod
    def _entry(entry: WorkEntry) -> dict:
        tracker = entry.tracker
        return {
            "id": str(entry.id),
            "organization": tracker.project.organization.code,
            "project": tracker.project.code,
            "tracker": tracker.name,
            "tracker_api_kind": tracker.api_kind,
            "external_id": entry.external_id,
            "external_username": entry.external_username,
            "user": entry.user.username if entry.user else None,
            "started_at": _iso(entry.started_at),
            "duration_seconds": entry.duration_seconds,
            "text": entry.text,
            "breadcrumb_trail": entry.breadcrumb_trail,
            "external_task_id": entry.external_task_id,
            "updated_at": _iso(entry.updated_at),
        }

    def _rule_explanation(self, rule: Rule, decision: Decision, work_tracker_id: str) -> dict:
        row = rule.row
        task_id, reason, value = decision
        return {
            "id": row.id,
            "tracker": row.tracker_name,
            "match_on": row.match_on,
            "priority": row.priority,
            "position": row.position,
            "source_work_trackers": sorted(
                self._tracker_names.get(source, source) for source in row.source_tracker_ids
            ),
            "target_task": (self._task(row.target_task_id) or {}).get("code") if row.target_task_id else None,
            "text_pattern": row.text_pattern,
            "breadcrumb_trail_pattern": row.breadcrumb_trail_pattern,
            "outcome": _OUTCOMES.get(reason, "not_applied"),
            "reason": str(reason),
            "detail": self._detail(rule, reason, value, task_id, work_tracker_id),
        }

    def _detail(self, rule: Rule, reason: Reason, value: str | None, task_id: str | None, tracker_id: str) -> str:
        row = rule.row
        task_code = (self._task(task_id) or {}).get("code") if task_id else None
        match reason:
            case Reason.MATCHED if row.match_on == MatchOn.ALWAYS_TO_TASK:
                return f"always matches: task {task_code}"
            case Reason.MATCHED if row.match_on == MatchOn.EXTERNAL_TASK_ID_TO_TASK_EXTERNAL_ID:
                return f"external task id {value!r} is the external id of task {task_code}"
            case Reason.MATCHED if row.match_on == MatchOn.EXTERNAL_TASK_ID_TO_TASK_URL:
                return f"external task id {value!r} is the URL of task {task_code}"
            case Reason.MATCHED if row.match_on == MatchOn.PATTERN_TO_TASK_CODE:
                return f"the patterns matched and extracted code {value!r}: task {task_code}"
            case Reason.MATCHED:
                return f"the patterns matched: task {task_code}"
            case Reason.TEXT_PATTERN_DID_NOT_MATCH:
                return f"text_pattern {row.text_pattern!r} did not match the text"
            case Reason.BREADCRUMB_TRAIL_PATTERN_DID_NOT_MATCH:
                return f"breadcrumb_trail_pattern {row.breadcrumb_trail_pattern!r} did not match the breadcrumb trail"
            case Reason.NO_TASK_CODE_EXTRACTED:
                return "the patterns matched but the group task_code captured nothing"
            case Reason.NO_TASK_WITH_CODE:
                return f"extracted code {value!r} but tracker {row.tracker_name} has no task with this code"
            case Reason.NO_EXTERNAL_TASK_ID:
                return "the work entry has no external task id"
            case Reason.NO_TASK_WITH_EXTERNAL_ID:
                return f"tracker {row.tracker_name} has no task with external id {value!r}"
            case Reason.NO_TASK_WITH_URL:
                return f"tracker {row.tracker_name} has no task with URL {value!r}"
            case Reason.INVALID_RULE:
                return f"the rule never applies: {value}"
            case Reason.PATTERN_TIMED_OUT:
                return f"the rule was stopped: {value}"
            case Reason.SOURCE_TRACKER_NOT_LISTED:
                tracker_name = self._tracker_names.get(tracker_id, tracker_id)
                return f"work tracker {tracker_name} is not among the rule's source_work_trackers"
            case Reason.NOT_TRIED_EARLIER_RULE_MATCHED:
                return "not tried: an earlier rule matched"
        return str(reason)

    @staticmethod
    def _final_detail(final: tuple[Rule, Decision] | None, rules: ProjectRules, tracker_id: str) -> str:
        if final is not None:
            row = final[0].row
            where = f"priority {row.priority}, position {row.position}"
            return f"matched by {row.match_on} of tracker {row.tracker_name} ({where})"
        if not rules.for_work_tracker(tracker_id):
            return "unmatched: no rule lists this entry's tracker among its source_work_trackers"
        return "unmatched: no rule applies"
