"""Organizations, their members, user mappings and projects."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from siisurit.models.fields import BaseModel


class Organization(BaseModel):
    code = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC")

    def __str__(self) -> str:
        return self.code


class OrganizationProfile(BaseModel):
    """A user's membership in an organization; exactly one member per organization is the default user."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="profiles")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organization_profiles")
    is_default = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="profile_unique_user"),
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(is_default=True), name="profile_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization.code}/{self.user.username}"


class UserMapping(BaseModel):
    """Maps external usernames or e-mails of trackers to Siisurit users."""

    class Fallback(models.TextChoices):
        NONE = "", "unmapped"
        DEFAULT = "default", "organization's default user"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="user_mappings")
    name = models.CharField(max_length=200)
    fallback = models.CharField(max_length=20, choices=Fallback.choices, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="user_mapping_unique_name")]

    def __str__(self) -> str:
        return self.name


class UserMappingEntry(BaseModel):
    user_mapping = models.ForeignKey(UserMapping, on_delete=models.CASCADE, related_name="entries")
    external_username = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name_plural = "user mapping entries"
        constraints = [
            models.UniqueConstraint(fields=["user_mapping", "external_username"], name="mapping_entry_unique")
        ]

    def __str__(self) -> str:
        return f"{self.external_username} → {self.user_id}"


class Project(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    code = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="project_unique_code")]

    def __str__(self) -> str:
        return f"{self.organization.code}/{self.code}"
