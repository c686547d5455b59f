"""Trackers of a project: where tasks and work entries come from."""

from __future__ import annotations

from django.db import models

from siisurit.models.fields import BaseModel, SecretField
from siisurit.models.organization import Project, UserMapping


class ApiKind(models.TextChoices):
    GITHUB = "github", "GitHub"
    GITLAB = "gitlab", "GitLab"
    JIRA = "jira", "Jira"
    YOUTRACK = "youtrack", "YouTrack"
    KIMAI = "kimai", "Kimai"
    CLOCKODO = "clockodo", "Clockodo"


TASK_API_KINDS = frozenset({ApiKind.GITHUB, ApiKind.GITLAB, ApiKind.JIRA, ApiKind.YOUTRACK})
WORK_API_KINDS = frozenset({ApiKind.KIMAI, ApiKind.CLOCKODO})


class DownloadOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


class TrackerQuerySet(models.QuerySet):
    def downloadable(self) -> TrackerQuerySet:
        """Trackers with an API kind: the only ones downloads visit (without one, a tracker declares tasks only)."""
        return self.exclude(api_kind="")


class Tracker(BaseModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="trackers")
    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(
        default=0, help_text="declaration order in the project's configuration; orders work matches of equal priority"
    )
    api_kind = models.CharField(max_length=20, choices=ApiKind.choices, blank=True, default="")
    api_location = models.CharField(max_length=500, blank=True, default="", help_text="URL copied from the browser")
    api_base_url = models.CharField(
        max_length=500, blank=True, default="", help_text="overrides the API base derived from the location"
    )
    api_token = SecretField(blank=True, default="")
    api_username = models.CharField(max_length=200, blank=True, default="")
    api_custom_assignee_fields = models.CharField(max_length=500, blank=True, default="")
    user_mapping = models.ForeignKey(
        UserMapping, on_delete=models.SET_NULL, null=True, blank=True, related_name="trackers"
    )
    download_state = models.JSONField(default=dict, blank=True, help_text="connector cursor for incremental updates")
    last_downloaded_at = models.DateTimeField(null=True, blank=True, help_text="when a download last succeeded")
    # How the last download ended, written by the download service (admin, `manage.py jobs` and reports read it).
    last_download_at = models.DateTimeField(null=True, blank=True, help_text="when the last download ended")
    last_download_outcome = models.CharField(max_length=20, choices=DownloadOutcome.choices, blank=True, default="")
    last_download_error = models.TextField(blank=True, default="", help_text="why the last download failed")
    last_download_items = models.PositiveIntegerField(
        null=True, blank=True, help_text="items (tasks or work entries) the last successful download listed"
    )

    objects = TrackerQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="tracker_unique_name")]

    def __str__(self) -> str:
        """`organization/project/name`: tracker names repeat across projects (select `project__organization`)."""
        return f"{self.project}/{self.name}"

    @property
    def custom_assignee_fields(self) -> list[str]:
        return [field.strip() for field in self.api_custom_assignee_fields.split(",") if field.strip()]
