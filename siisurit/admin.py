"""Admin site for all models. Tracker tokens are write-only: the form never shows them.

Configuration that `update_organization` writes says so on its pages; downloaded data (tasks, work entries) is
read-only, since the next download overwrites any edit. Trackers show how their last download ended.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils.html import format_html

from siisurit.connectors.locations import api_base_url_problem, credentials_origin
from siisurit.matching.bounds import pattern_problem
from siisurit.matching.explanation import stored_match
from siisurit.models import (
    DownloadOutcome,
    Organization,
    OrganizationProfile,
    Project,
    Task,
    TaskAssignee,
    Tracker,
    User,
    UserMapping,
    UserMappingEntry,
    WorkEntry,
    WorkMatch,
)
from siisurit.secrets import Secret

OWNED_BY_ORGANIZATION_FILE = (
    "Written by `manage.py update_organization` from the organization's YAML file: change the file and import it "
    "again, since the next import overwrites edits made here."
)
DOWNLOADED_DATA = "Downloaded from the trackers: read-only here, since the next download overwrites any edit."


class OrganizationFileAdmin(admin.ModelAdmin):
    """Admin of configuration that `update_organization` owns: its list and form say so."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        return super().changelist_view(request, {"subtitle": OWNED_BY_ORGANIZATION_FILE, **(extra_context or {})})

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        (name, options), *others = super().get_fieldsets(request, obj)
        return [(name, {**options, "description": OWNED_BY_ORGANIZATION_FILE}), *others]


class ReadOnlyAdminMixin:
    """Rows that are viewed here, never added, changed or deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DownloadedDataAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Admin of downloaded rows: read-only, and its list says why."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        return super().changelist_view(request, {"subtitle": DOWNLOADED_DATA, **(extra_context or {})})


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("name", "email")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    list_display = ("username", "email", "name", "is_staff", "is_active")
    search_fields = ("username", "name", "email")
    ordering = ("username",)


class OrganizationProfileInline(admin.TabularInline):
    model = OrganizationProfile
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(OrganizationFileAdmin):
    list_display = ("code", "name", "timezone")
    search_fields = ("code", "name")
    inlines = [OrganizationProfileInline]


class UserMappingEntryInline(admin.TabularInline):
    model = UserMappingEntry
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(UserMapping)
class UserMappingAdmin(OrganizationFileAdmin):
    list_display = ("name", "organization", "fallback")
    list_filter = ("organization",)
    inlines = [UserMappingEntryInline]


@admin.register(Project)
class ProjectAdmin(OrganizationFileAdmin):
    list_display = ("code", "name", "organization")
    list_select_related = ("organization",)
    list_filter = ("organization",)
    search_fields = ("code", "name")


class TrackerAdminForm(forms.ModelForm):
    api_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. Leave empty to keep the stored token.",
    )

    class Meta:
        model = Tracker
        fields = (
            "project",
            "name",
            "api_kind",
            "api_location",
            "api_base_url",
            "api_token",
            "api_username",
            "api_custom_assignee_fields",
            "user_mapping",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["api_token"] = ""

    def clean_api_base_url(self) -> str:
        value = self.cleaned_data.get("api_base_url") or ""
        problem = api_base_url_problem(value)
        if problem:
            raise forms.ValidationError(f"api_base_url {problem}")
        return value.strip()

    def clean_api_token(self) -> Secret:
        entered = self.cleaned_data.get("api_token") or ""
        if entered:
            return Secret(entered)
        return self.instance.api_token if self.instance.pk else Secret("")

    def clean(self) -> dict[str, Any]:
        """A kept token stays with its host: moving the tracker elsewhere needs the token entered again."""
        cleaned = super().clean()
        if not self.instance.pk or self.data.get("api_token") or not self.instance.api_token.reveal():
            return cleaned
        stored = Tracker.objects.get(pk=self.instance.pk)
        old = credentials_origin(stored.api_location, stored.api_base_url)
        new = credentials_origin(cleaned.get("api_location") or "", cleaned.get("api_base_url") or "")
        if old != new:
            self.add_error(
                "api_token",
                f"The stored token belongs to {old}; enter the token for {new} again "
                "(a kept token is only sent to the host it was entered for).",
            )
        return cleaned


@admin.register(Tracker)
class TrackerAdmin(OrganizationFileAdmin):
    form = TrackerAdminForm
    list_display = (
        "name",
        "project",
        "api_kind",
        "last_download_at",
        "last_download",
        "last_download_items",
        "last_download_error",
    )
    list_select_related = ("project__organization",)
    list_filter = ("last_download_outcome", "api_kind", "project__organization")
    search_fields = ("name", "project__code", "project__organization__code")
    readonly_fields = (
        "last_download_at",
        "last_download_outcome",
        "last_download_items",
        "last_download_error",
        "last_downloaded_at",
    )

    @admin.display(description="last download", ordering="last_download_outcome")
    def last_download(self, tracker: Tracker) -> str:
        """The outcome; a failing tracker stands out (red, with the admin's error icon)."""
        if tracker.last_download_outcome == DownloadOutcome.FAILED:
            return format_html(
                '<strong class="last-download-failed" style="color: #ba2121"><img src="{}" alt=""> failed</strong>',
                static("admin/img/icon-no.svg"),
            )
        return tracker.get_last_download_outcome_display() or "never"


class TaskAssigneeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TaskAssignee
    extra = 0


@admin.register(Task)
class TaskAdmin(DownloadedDataAdmin):
    list_display = ("code", "title", "state", "estimate_hours", "tracker")
    list_select_related = ("tracker__project__organization",)
    list_filter = ("tracker__project", "is_closed", "is_declared")
    search_fields = ("code", "title")
    inlines = [TaskAssigneeInline]


class WorkMatchAdminForm(forms.ModelForm):
    """The same pattern checks as an organization file's: valid, and not known to backtrack badly."""

    class Meta:
        model = WorkMatch
        fields = (
            "tracker", "match_on", "priority", "position", "source_work_trackers", "target_task", "text_pattern",
            "breadcrumb_trail_pattern",
        )  # fmt: skip

    def clean_text_pattern(self) -> str:
        return _checked_pattern(self.cleaned_data.get("text_pattern") or "")

    def clean_breadcrumb_trail_pattern(self) -> str:
        return _checked_pattern(self.cleaned_data.get("breadcrumb_trail_pattern") or "")


def _checked_pattern(pattern: str) -> str:
    problem = pattern_problem(pattern) if pattern else None
    if problem:
        raise forms.ValidationError(problem)
    return pattern


@admin.register(WorkMatch)
class WorkMatchAdmin(OrganizationFileAdmin):
    form = WorkMatchAdminForm
    list_display = ("tracker", "match_on", "priority", "position", "target_task")
    list_select_related = ("tracker__project__organization", "target_task")
    list_filter = ("match_on", "tracker__project")
    filter_horizontal = ("source_work_trackers",)
    raw_id_fields = ("target_task",)


@admin.register(WorkEntry)
class WorkEntryAdmin(DownloadedDataAdmin):
    list_display = ("external_id", "tracker", "user", "started_at", "duration_hours", "matched_task")
    readonly_fields = ("duration_hours",)
    list_select_related = ("tracker__project__organization", "user", "match__task")
    list_filter = ("tracker__project",)
    search_fields = ("text", "external_id", "external_username")
    raw_id_fields = ("user",)
    date_hierarchy = "started_at"

    @admin.display(description="hours", ordering="duration_seconds")
    def duration_hours(self, entry: WorkEntry) -> str:
        return f"{entry.duration_seconds / 3600:.2f}"

    @admin.display(description="task")
    def matched_task(self, entry: WorkEntry) -> Task | None:
        match = stored_match(entry)
        return match.task if match else None
