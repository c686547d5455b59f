"""The work match rules of a project, compiled and in evaluation order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from siisurit.matching.rules import LookupFactory, Rule, WorkMatchRow, rule_from_row
from siisurit.models import Tracker, WorkMatch


@dataclass
class ProjectRules:
    """All rules of a project's trackers in evaluation order, and the trackers whose entries they match."""

    tracker_ids: list[str]
    rules: list[Rule]
    _by_work_tracker: dict[str, list[Rule]] = field(default_factory=dict, repr=False)

    def for_work_tracker(self, work_tracker_id: str) -> list[Rule]:
        """The rules that may match entries of this tracker, in evaluation order."""
        rules = self._by_work_tracker.get(work_tracker_id)
        if rules is None:
            rules = self._by_work_tracker[work_tracker_id] = [
                rule for rule in self.rules if rule.applies_to(work_tracker_id)
            ]
        return rules


def _tracker_ids(project_id: str) -> list[str]:
    return sorted(
        str(tracker_id) for tracker_id in Tracker.objects.filter(project_id=project_id).values_list("id", flat=True)
    )


def work_match_rows(*, project_id: str) -> list[WorkMatchRow]:
    """The work matches of the project's trackers, sources restricted to the project, in evaluation order."""
    tracker_ids = set(_tracker_ids(project_id))
    sources: dict[str, set[str]] = defaultdict(set)
    through = WorkMatch.source_work_trackers.through
    for work_match_id, tracker_id in through.objects.filter(workmatch__tracker__project_id=project_id).values_list(
        "workmatch_id", "tracker_id"
    ):
        if str(tracker_id) in tracker_ids:
            sources[str(work_match_id)].add(str(tracker_id))
    rows = [
        WorkMatchRow(
            id=str(values["id"]),
            tracker_id=str(values["tracker_id"]),
            tracker_name=values["tracker__name"],
            tracker_position=values["tracker__position"],
            match_on=values["match_on"],
            priority=values["priority"],
            position=values["position"],
            source_tracker_ids=frozenset(sources[str(values["id"])]),
            target_task_id=str(values["target_task_id"]) if values["target_task_id"] else None,
            text_pattern=values["text_pattern"],
            breadcrumb_trail_pattern=values["breadcrumb_trail_pattern"],
            source_line=values["source_line"],
        )
        for values in WorkMatch.objects.filter(tracker__project_id=project_id).values(
            "id",
            "tracker_id",
            "tracker__name",
            "tracker__position",
            "match_on",
            "priority",
            "position",
            "target_task_id",
            "text_pattern",
            "breadcrumb_trail_pattern",
            "source_line",
        )
    ]
    return sorted(rows, key=lambda row: row.evaluation_order)


def project_rules(*, project_id: str, lookups: LookupFactory) -> ProjectRules:
    """The project's rules, compiled with task lookups from `lookups`."""
    tracker_ids = _tracker_ids(project_id)
    rules = [rule_from_row(row, lookups) for row in work_match_rows(project_id=project_id)]
    return ProjectRules(tracker_ids=tracker_ids, rules=rules)
