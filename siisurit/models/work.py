"""Work entries of time trackers, the rules that match them to tasks, and where each was matched."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from siisurit.models.fields import BaseModel
from siisurit.models.task import Task
from siisurit.models.tracker import Tracker


class MatchOn(models.TextChoices):
    ALWAYS_TO_TASK = "always_to_task", "always to task"
    EXTERNAL_TASK_ID_TO_TASK_EXTERNAL_ID = "external_task_id_to_task_external_id", "external task id to external id"
    EXTERNAL_TASK_ID_TO_TASK_URL = "external_task_id_to_task_url", "external task id to task URL"
    PATTERN_TO_TASK = "pattern_to_task", "pattern to task"
    PATTERN_TO_TASK_CODE = "pattern_to_task_code", "pattern to task code"


class WorkMatch(BaseModel):
    """A rule of a task tracker matching work entries of its source trackers to its tasks."""

    tracker = models.ForeignKey(Tracker, on_delete=models.CASCADE, related_name="work_matches")
    match_on = models.CharField(max_length=50, choices=MatchOn.choices)
    priority = models.IntegerField(default=0, help_text="higher is tried first")
    position = models.PositiveIntegerField(default=0, help_text="declaration order, breaks priority ties")
    source_work_trackers = models.ManyToManyField(Tracker, related_name="sourcing_work_matches")
    # A target task deleted upstream leaves the rule in place without a target: it no longer applies (matching
    # reports it as invalid) and the next `update_organization` names the missing task, instead of the rule
    # silently vanishing from the configuration.
    target_task = models.ForeignKey(Task, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    text_pattern = models.CharField(max_length=1000, blank=True, default="")
    breadcrumb_trail_pattern = models.CharField(max_length=1000, blank=True, default="")
    #: Where the rule stands in the organization file it was imported from, for errors found when matching.
    source_line = models.PositiveIntegerField(null=True, blank=True, help_text="line in the organization file")

    class Meta:
        ordering = ["tracker", "-priority", "position"]
        verbose_name_plural = "work matches"

    def __str__(self) -> str:
        return f"{self.tracker.name}: {self.match_on} (priority {self.priority})"


class WorkEntry(BaseModel):
    """A downloaded work entry; its keys are checked once per statement (see the migration download_keys)."""

    # Indexed by the unique (tracker, external_id) constraint: no separate index to maintain on every insert.
    tracker = models.ForeignKey(
        Tracker, on_delete=models.CASCADE, related_name="work_entries", db_index=False, db_constraint=False
    )
    external_id = models.CharField(max_length=200)
    external_username = models.CharField(max_length=200, blank=True, default="")
    # Indexed by work_user_started.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, db_index=False, db_constraint=False
    )
    started_at = models.DateTimeField()
    duration_seconds = models.IntegerField(default=0)
    text = models.TextField(blank=True, default="")
    breadcrumb_trail = models.CharField(max_length=1000, blank=True, default="", help_text="customer / project / …")
    external_task_id = models.CharField(max_length=1000, blank=True, default="", help_text="task id or URL")
    updated_at = models.DateTimeField(null=True, blank=True, help_text="last change upstream")

    class Meta:
        verbose_name_plural = "work entries"
        constraints = [models.UniqueConstraint(fields=["tracker", "external_id"], name="work_entry_unique")]
        indexes = [
            models.Index(fields=["tracker", "started_at"], name="work_tracker_started"),
            models.Index(fields=["user", "started_at"], name="work_user_started"),
        ]

    def __str__(self) -> str:
        return f"{self.tracker.name}:{self.external_id}"


class WorkEntryMatch(models.Model):
    """The task a work match assigned to a work entry; no row: unmatched.

    A narrow table of its own with only its primary key indexed, so that matching writes what changed rather than
    rewriting wide work entry rows. Its keys are checked by PostgreSQL once per statement (triggers of the migration
    work_entry_matches), not per row: writing a match to a missing entry, task or rule fails, and deleting or
    truncating entries, tasks or rules deletes their matches in the database (deleting entries stays one statement).
    """

    work_entry = models.OneToOneField(
        WorkEntry, on_delete=models.DO_NOTHING, primary_key=True, db_constraint=False, related_name="match"
    )
    task = models.ForeignKey(Task, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    work_match = models.ForeignKey(
        WorkMatch, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, null=True, related_name="+"
    )
    matched_at = models.DateTimeField(null=True, blank=True, help_text="NULL: a download changed the entry since")

    class Meta:
        verbose_name_plural = "work entry matches"

    def __str__(self) -> str:
        return f"{self.work_entry_id} -> {self.task_id}"


class WorkMatchState(models.Model):
    """What the stored matches of a work tracker's entries were decided by: its rules and the tasks they look up.

    A match that finds the same rules (or some of them removed) and the same tasks decides only the pending entries.
    """

    work_tracker = models.OneToOneField(Tracker, on_delete=models.CASCADE, primary_key=True, related_name="+")
    rules = models.JSONField(default=list, help_text="a fingerprint of each applying rule, in evaluation order")
    tasks = models.CharField(max_length=100, blank=True, default="", help_text="a fingerprint of the tasks")

    def __str__(self) -> str:
        return f"{self.work_tracker_id}: {len(self.rules)} rules"
