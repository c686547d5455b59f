"""What the demo downloaded and matched, per project of an organization (a selector: reads only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum

from siisurit.models import Project, Task, WorkEntry

TOP_TASK_COUNT = 5


def _hours(seconds: int | None) -> Decimal:
    return (Decimal(seconds or 0) / 3600).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class TaskHours:
    code: str
    title: str
    hours: Decimal


@dataclass(frozen=True)
class ProjectSummary:
    organization_code: str
    code: str
    name: str
    trackers: int
    tasks: int
    work_entries: int
    matched_entries: int
    unmatched_entries: int
    matched_hours: Decimal
    unmatched_hours: Decimal
    top_tasks: list[TaskHours] = field(default_factory=list)
    #: a work entry worth explaining (an unmatched one if any), for the `explain_work_entry` example
    example_work_entry_id: str | None = None

    def as_dict(self) -> dict:
        return {
            "project": f"{self.organization_code}/{self.code}",
            "trackers": self.trackers,
            "tasks": self.tasks,
            "work_entries": self.work_entries,
            "matched_entries": self.matched_entries,
            "unmatched_entries": self.unmatched_entries,
            "matched_hours": str(self.matched_hours),
            "unmatched_hours": str(self.unmatched_hours),
            "top_tasks": [
                {"code": task.code, "title": task.title, "hours": str(task.hours)} for task in self.top_tasks
            ],
        }


def project_summary(project: Project) -> ProjectSummary:
    entries = WorkEntry.objects.filter(tracker__project=project)
    totals = entries.aggregate(
        entries=Count("id"),
        matched=Count("id", filter=Q(match__isnull=False)),
        matched_seconds=Sum("duration_seconds", filter=Q(match__isnull=False)),
        unmatched_seconds=Sum("duration_seconds", filter=Q(match__isnull=True)),
    )
    top_rows = (
        entries.filter(match__isnull=False)
        .values("match__task__code", "match__task__title")
        .annotate(seconds=Sum("duration_seconds"))
        .order_by("-seconds", "match__task__code")[:TOP_TASK_COUNT]
    )
    example = (
        entries.filter(match__isnull=True).order_by("-started_at").values_list("id", flat=True).first()
        or entries.order_by("-started_at").values_list("id", flat=True).first()
    )
    return ProjectSummary(
        organization_code=project.organization.code,
        code=project.code,
        name=project.name,
        trackers=project.trackers.count(),
        tasks=Task.objects.filter(tracker__project=project).count(),
        work_entries=totals["entries"],
        matched_entries=totals["matched"],
        unmatched_entries=totals["entries"] - totals["matched"],
        matched_hours=_hours(totals["matched_seconds"]),
        unmatched_hours=_hours(totals["unmatched_seconds"]),
        top_tasks=[
            TaskHours(row["match__task__code"], row["match__task__title"], _hours(row["seconds"])) for row in top_rows
        ],
        example_work_entry_id=str(example) if example else None,
    )


def organization_summary(*, organization_code: str) -> list[ProjectSummary]:
    """One summary per project of the organization, ordered by project code."""
    projects = Project.objects.filter(organization__code=organization_code).select_related("organization")
    return [project_summary(project) for project in projects.order_by("code")]
