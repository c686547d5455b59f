"""Applying an organization configuration file to the database: create, update and remove to match the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models, transaction

from siisurit.models import (
    Organization,
    OrganizationProfile,
    Project,
    Task,
    Tracker,
    User,
    UserMapping,
    UserMappingEntry,
    WorkMatch,
)
from siisurit.organization_config.config import OrganizationConfig, ProjectConfig, TrackerConfig, UserMappingConfig
from siisurit.organization_config.loader import config_load
from siisurit.organization_config.schema.references import config_check_references
from siisurit.organization_config.schema.validation import config_validate
from siisurit.organization_config.summary import ChangeSummary

#: Changing where a tracker's data comes from makes its download cursor meaningless.
_DOWNLOAD_SOURCE_FIELDS = {"api_kind", "api_location", "api_base_url"}


def organization_update(*, path: Path | str, dry_run: bool = False, token_moves_allowed: bool = False) -> ChangeSummary:
    """Create or update the organization of the YAML file at `path` and everything in it to match the file.

    The whole file is validated first; then everything is applied in one transaction (rolled back for `dry_run`).
    A tracker moving to another host must come with another token, unless `token_moves_allowed` (the demo, whose
    tokens are the sandbox's public ones). Raises OrganizationConfigError naming file, line and key.
    """
    path = Path(path)
    data = config_load(path=path, max_bytes=settings.SII_INPUT_FILE_MAX_BYTES)
    config = config_validate(data, path=path, lookup=settings.ENV.lookup)
    summary = ChangeSummary(organization_code=config.code, dry_run=dry_run)
    with transaction.atomic():
        users = config_check_references(config, token_moves_allowed=token_moves_allowed)
        _Applier(config, users, summary).apply()
        if dry_run:
            transaction.set_rollback(True)
    return summary


def _assign(instance: models.Model, values: dict[str, Any]) -> list[str]:
    """Set `values` on `instance`; the names of the fields that changed (without `_id`)."""
    changed = []
    for attribute, value in values.items():
        if getattr(instance, attribute) != value:
            setattr(instance, attribute, value)
            changed.append(attribute.removesuffix("_id"))
    return changed


def _changed_detail(changed: list[str]) -> str:
    return ", ".join(changed) + " changed"


class _Applier:
    def __init__(self, config: OrganizationConfig, users: dict[str, User], summary: ChangeSummary) -> None:
        self.config = config
        self.users = users
        self.summary = summary

    def apply(self) -> None:
        organization = self._organization()
        self._profiles(organization)
        mappings = {
            mapping_config.name: self._user_mapping(organization, mapping_config)
            for mapping_config in self.config.user_mappings
        }
        existing_projects = {project.code: project for project in organization.projects.all()}
        for project_config in self.config.projects:
            self._project(organization, existing_projects.get(project_config.code), project_config, mappings)
        wanted_projects = {project_config.code for project_config in self.config.projects}
        for code, project in existing_projects.items():
            if code not in wanted_projects:
                self._remove_project(project)
        for mapping in organization.user_mappings.exclude(name__in=mappings.keys()):
            self.summary.record("user mapping", "removed", f"'{mapping.name}'")
            self.summary.add_removed("user mapping entry", mapping.entries.count())
            mapping.delete()

    def _upsert(self, kind: str, label: str, instance: models.Model | None, create: Any, values: dict) -> Any:
        """Create (via `create(**values)`) or update `instance`; record what happened."""
        if instance is None:
            instance = create(**values)
            self.summary.record(kind, "created", label)
            return instance
        changed = _assign(instance, values)
        if changed:
            instance.save()
            self.summary.record(kind, "updated", label, _changed_detail(changed))
        else:
            self.summary.record(kind, "unchanged", label)
        return instance

    def _organization(self) -> Organization:
        config = self.config
        organization = Organization.objects.select_for_update().filter(code=config.code).first()
        return self._upsert(
            "organization",
            f"'{config.code}'",
            organization,
            lambda **values: Organization.objects.create(code=config.code, **values),
            {"name": config.name, "timezone": config.timezone},
        )

    def _profiles(self, organization: Organization) -> None:
        existing = {profile.user.username: profile for profile in organization.profiles.select_related("user")}
        wanted = [profile.username for profile in self.config.profiles]
        for username, profile in existing.items():
            if username not in wanted:
                self.summary.record("organization profile", "removed", f"'{username}'")
                profile.delete()
        # Clear the old default before setting the new one: at most one default per organization at any time.
        for username in sorted(wanted, key=lambda name: name == self.config.default_username):
            self._upsert(
                "organization profile",
                f"'{username}'",
                existing.get(username),
                lambda username=username, **values: OrganizationProfile.objects.create(
                    organization=organization, user=self.users[username], **values
                ),
                {"is_default": username == self.config.default_username},
            )

    def _user_mapping(self, organization: Organization, config: UserMappingConfig) -> UserMapping:
        mapping = self._upsert(
            "user mapping",
            f"'{config.name}'",
            organization.user_mappings.filter(name=config.name).first(),
            lambda **values: UserMapping.objects.create(organization=organization, name=config.name, **values),
            {"fallback": config.fallback},
        )
        existing = {entry.external_username: entry for entry in mapping.entries.all()}
        for entry_config in config.entries:
            self._upsert(
                "user mapping entry",
                f"'{config.name}': '{entry_config.external_username}' → '{entry_config.username}'",
                existing.get(entry_config.external_username),
                lambda entry_config=entry_config, **values: UserMappingEntry.objects.create(
                    user_mapping=mapping, external_username=entry_config.external_username, **values
                ),
                {"user_id": self.users[entry_config.username].id},
            )
        wanted = {entry_config.external_username for entry_config in config.entries}
        for external_username, entry in existing.items():
            if external_username not in wanted:
                self.summary.record("user mapping entry", "removed", f"'{config.name}': '{external_username}'")
                entry.delete()
        return mapping

    def _project(
        self,
        organization: Organization,
        project: Project | None,
        config: ProjectConfig,
        mappings: dict[str, UserMapping],
    ) -> None:
        project = self._upsert(
            "project",
            f"'{config.code}'",
            project,
            lambda **values: Project.objects.create(organization=organization, code=config.code, **values),
            {"name": config.name},
        )
        existing = {tracker.name: tracker for tracker in project.trackers.all()}
        trackers = {
            tracker_config.name: self._tracker(
                project, existing.get(tracker_config.name), tracker_config, mappings, position=position
            )
            for position, tracker_config in enumerate(config.trackers)
        }
        for tracker_config in config.trackers:
            tracker = trackers[tracker_config.name]
            self._declared_tasks_and_work_matches(project, tracker, tracker_config, trackers)
        for name, tracker in existing.items():
            if name not in trackers:
                self._remove_tracker(f"'{project.code}/{name}'", tracker)

    def _tracker(
        self,
        project: Project,
        tracker: Tracker | None,
        config: TrackerConfig,
        mappings: dict[str, UserMapping],
        *,
        position: int,
    ) -> Tracker:
        label = f"'{project.code}/{config.name}'"
        values = {
            "position": position,
            "api_kind": config.api_kind,
            "api_location": config.api_location,
            "api_base_url": config.api_base_url,
            "api_username": config.api_username,
            "api_custom_assignee_fields": config.api_custom_assignee_fields,
            "user_mapping_id": mappings[config.user_mapping].id if config.user_mapping else None,
        }
        if tracker is None:
            tracker = Tracker.objects.create(project=project, name=config.name, api_token=config.api_token, **values)
            self.summary.record("tracker", "created", label)
            return tracker
        changed = _assign(tracker, values)
        if tracker.api_token.reveal() != config.api_token.reveal():
            tracker.api_token = config.api_token
            changed.append("api_token")
        if not changed:
            self.summary.record("tracker", "unchanged", label)
            return tracker
        detail = _changed_detail(changed)
        if _DOWNLOAD_SOURCE_FIELDS.intersection(changed) and (tracker.download_state or tracker.last_downloaded_at):
            tracker.download_state = {}
            tracker.last_downloaded_at = None
            detail += "; next download is a full one"
        tracker.save()
        self.summary.record("tracker", "updated", label, detail)
        return tracker

    def _declared_tasks_and_work_matches(
        self, project: Project, tracker: Tracker, config: TrackerConfig, trackers: dict[str, Tracker]
    ) -> None:
        prefix = f"{project.code}/{tracker.name}"
        existing_tasks = {task.code: task for task in tracker.tasks.filter(is_declared=True)}
        for task_config in config.tasks:
            self._upsert(
                "declared task",
                f"'{prefix}/{task_config.code}'",
                existing_tasks.get(task_config.code),
                lambda task_config=task_config, **values: Task.objects.create(
                    tracker=tracker, code=task_config.code, is_declared=True, **values
                ),
                {"title": task_config.title, "estimate_hours": task_config.estimate_hours},
            )
        targets = {work_match.target_task for work_match in config.work_matches if work_match.target_task}
        task_ids = dict(tracker.tasks.filter(code__in=targets).values_list("code", "id"))
        existing_matches = list(tracker.work_matches.order_by("position", "id"))
        for position, match_config in enumerate(config.work_matches):
            work_match = existing_matches[position] if position < len(existing_matches) else None
            label = f"'{prefix}' #{position + 1} {match_config.match_on}"
            values = {
                "match_on": match_config.match_on,
                "priority": match_config.priority,
                "position": position,
                "target_task_id": task_ids.get(match_config.target_task),
                "text_pattern": match_config.text_pattern,
                "breadcrumb_trail_pattern": match_config.breadcrumb_trail_pattern,
            }
            source_ids = {trackers[name].id for name in match_config.source_work_trackers}
            if work_match is None:
                work_match = WorkMatch.objects.create(tracker=tracker, source_line=match_config.line, **values)
                work_match.source_work_trackers.set(source_ids)
                self.summary.record("work match", "created", label)
                continue
            # A moved line is no change of the rule: stored quietly, for messages of the matching.
            moved = _assign(work_match, {"source_line": match_config.line})
            changed = _assign(work_match, values)
            if set(work_match.source_work_trackers.values_list("id", flat=True)) != source_ids:
                work_match.source_work_trackers.set(source_ids)
                changed.append("source_work_trackers")
            if changed or moved:
                work_match.save()
            if changed:
                self.summary.record("work match", "updated", label, _changed_detail(changed))
            else:
                self.summary.record("work match", "unchanged", label)
        for position, work_match in enumerate(existing_matches[len(config.work_matches) :], len(config.work_matches)):
            self.summary.record("work match", "removed", f"'{prefix}' #{position + 1} {work_match.match_on}")
            work_match.delete()
        wanted_codes = {task_config.code for task_config in config.tasks}
        for code, task in existing_tasks.items():
            if code not in wanted_codes:
                self.summary.record("declared task", "removed", f"'{prefix}/{code}'")
                task.delete()

    def _remove_tracker(self, label: str, tracker: Tracker) -> None:
        downloaded_tasks = tracker.tasks.filter(is_declared=False).count()
        work_entries = tracker.work_entries.count()
        detail = f"with {downloaded_tasks} downloaded tasks and {work_entries} work entries"
        self.summary.record("tracker", "removed", label, detail)
        self.summary.add_removed("declared task", tracker.tasks.filter(is_declared=True).count())
        self.summary.add_removed("work match", tracker.work_matches.count())
        self.summary.add_removed("downloaded task", downloaded_tasks)
        self.summary.add_removed("work entry", work_entries)
        tracker.delete()

    def _remove_project(self, project: Project) -> None:
        self.summary.record("project", "removed", f"'{project.code}'")
        for tracker in project.trackers.all():
            self._remove_tracker(f"'{project.code}/{tracker.name}'", tracker)
        project.delete()
