"""Tasks of task trackers, downloaded or declared in the organization configuration."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from siisurit.models.fields import BaseModel
from siisurit.models.tracker import Tracker


class Task(BaseModel):
    """A task, downloaded or declared; its keys are checked once per statement (see the migration download_keys)."""

    # Indexed by the unique (tracker, code) constraint: no separate index to maintain on every insert.
    tracker = models.ForeignKey(
        Tracker, on_delete=models.CASCADE, related_name="tasks", db_index=False, db_constraint=False
    )
    code = models.CharField(max_length=100, help_text="#123, !321, ABC-123 or a code from the configuration")
    title = models.CharField(max_length=1000, blank=True, default="")
    state = models.CharField(max_length=100, blank=True, default="")
    is_closed = models.BooleanField(default=False)
    estimate_hours = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    url = models.CharField(max_length=1000, blank=True, default="")
    external_id = models.CharField(max_length=200, blank=True, default="", help_text="empty for declared tasks")
    is_declared = models.BooleanField(default=False, help_text="declared in the configuration, not downloaded")
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tracker", "code"], name="task_unique_code"),
            models.UniqueConstraint(
                fields=["tracker", "external_id"], condition=~models.Q(external_id=""), name="task_unique_external_id"
            ),
        ]
        # No index on the URL: every downloaded task paid for it (a fifth of inserting one), and only explaining a
        # single entry looks a task up by URL alone (matching reads a tracker's tasks whole, by the tracker's key).

    def __str__(self) -> str:
        return f"{self.code} {self.title}".strip()


class TaskAssignee(BaseModel):
    """An assignee of a downloaded task; its keys are checked once per statement (see the migration download_keys)."""

    # Indexed by the unique (task, external_username) constraint.
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="assignees", db_index=False, db_constraint=False
    )
    external_username = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "external_username"], name="assignee_unique")]
        # Only mapped assignees are found by user (deleting a user unlinks them): unmapped ones cost no index entry.
        indexes = [models.Index(fields=["user"], name="assignee_user", condition=models.Q(user__isnull=False))]

    def __str__(self) -> str:
        return self.external_username
