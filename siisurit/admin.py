"""Admin site for all models. Tracker tokens are write-only: the form never shows them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from siisurit.models import (
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
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "timezone")
    search_fields = ("code", "name")
    inlines = [OrganizationProfileInline]


class UserMappingEntryInline(admin.TabularInline):
    model = UserMappingEntry
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(UserMapping)
class UserMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "fallback")
    list_filter = ("organization",)
    inlines = [UserMappingEntryInline]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "organization")
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

    def clean_api_token(self) -> Secret:
        entered = self.cleaned_data.get("api_token") or ""
        if entered:
            return Secret(entered)
        return self.instance.api_token if self.instance.pk else Secret("")


@admin.register(Tracker)
class TrackerAdmin(admin.ModelAdmin):
    form = TrackerAdminForm
    list_display = ("name", "api_kind", "project", "last_downloaded_at")
    list_filter = ("api_kind", "project__organization")
    search_fields = ("name",)
    readonly_fields = ("last_downloaded_at",)


class TaskAssigneeInline(admin.TabularInline):
    model = TaskAssignee
    extra = 0


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "state", "estimate_hours", "tracker")
    list_filter = ("tracker__project", "is_closed", "is_declared")
    search_fields = ("code", "title")
    inlines = [TaskAssigneeInline]


@admin.register(WorkMatch)
class WorkMatchAdmin(admin.ModelAdmin):
    list_display = ("tracker", "match_on", "priority", "position", "target_task")
    list_filter = ("match_on", "tracker__project")
    filter_horizontal = ("source_work_trackers",)
    raw_id_fields = ("target_task",)


@admin.register(WorkEntry)
class WorkEntryAdmin(admin.ModelAdmin):
    list_display = ("external_id", "tracker", "user", "started_at", "duration_seconds", "task")
    list_filter = ("tracker__project",)
    search_fields = ("text", "external_id", "external_username")
    raw_id_fields = ("task", "user", "work_match")
    date_hierarchy = "started_at"
