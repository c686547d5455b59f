"""Functions that create real rows for tests, with sensible defaults; keyword arguments override any field."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from siisurit.models import (
    ApiKind,
    Organization,
    OrganizationProfile,
    Project,
    Task,
    Tracker,
    User,
    UserMapping,
    UserMappingEntry,
    WorkEntry,
    WorkEntryMatch,
    WorkMatch,
)
from siisurit.secrets import Secret

_sequence = itertools.count(1)


def _next_number() -> int:
    return next(_sequence)


def make_user(username: str | None = None, **fields: Any) -> User:
    """A user; `password` (plaintext) is hashed, default: unusable password."""
    username = username or f"user{_next_number()}"
    password = fields.pop("password", None)
    fields.setdefault("email", f"{username}@example.com" if "@" not in username else username)
    user = User(username=username, **fields)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save()
    return user


def make_organization(code: str | None = None, **fields: Any) -> Organization:
    code = code or f"org{_next_number()}"
    fields.setdefault("name", f"Organization {code}")
    fields.setdefault("timezone", "Europe/Vienna")
    return Organization.objects.create(code=code, **fields)


def make_organization_profile(organization: Organization, user: User, **fields: Any) -> OrganizationProfile:
    return OrganizationProfile.objects.create(organization=organization, user=user, **fields)


def make_user_mapping(organization: Organization, name: str | None = None, **fields: Any) -> UserMapping:
    return UserMapping.objects.create(organization=organization, name=name or f"mapping{_next_number()}", **fields)


def make_user_mapping_entry(user_mapping: UserMapping, external_username: str, user: User) -> UserMappingEntry:
    return UserMappingEntry.objects.create(user_mapping=user_mapping, external_username=external_username, user=user)


def make_project(organization: Organization | None = None, code: str | None = None, **fields: Any) -> Project:
    organization = organization or make_organization()
    code = code or f"project{_next_number()}"
    fields.setdefault("name", f"Project {code}")
    return Project.objects.create(organization=organization, code=code, **fields)


def make_tracker(
    project: Project | None = None, name: str | None = None, api_kind: str = ApiKind.GITHUB, **fields: Any
) -> Tracker:
    """A tracker; `api_token` may be a plain string or a `Secret`."""
    project = project or make_project()
    name = name or f"{api_kind}{_next_number()}"
    token = fields.pop("api_token", "")
    fields["api_token"] = token if isinstance(token, Secret) else Secret(token)
    fields.setdefault("api_location", f"http://127.0.0.1:1/{name}")
    return Tracker.objects.create(project=project, name=name, api_kind=api_kind, **fields)


def make_task(tracker: Tracker | None = None, code: str | None = None, **fields: Any) -> Task:
    tracker = tracker or make_tracker()
    number = _next_number()
    code = code or f"#{number}"
    fields.setdefault("title", f"Task {code}")
    if not fields.get("is_declared"):
        fields.setdefault("external_id", f"ext-{number}")
    return Task.objects.create(tracker=tracker, code=code, **fields)


def make_work_entry(
    tracker: Tracker | None = None,
    external_id: str | None = None,
    *,
    task: Task | None = None,
    work_match: WorkMatch | None = None,
    matched_at: datetime | None = None,
    **fields: Any,
) -> WorkEntry:
    """A work entry; with `task`, matched to it (by `work_match`, at `matched_at`)."""
    tracker = tracker or make_tracker(api_kind=ApiKind.KIMAI)
    external_id = external_id or f"work-{_next_number()}"
    fields.setdefault("started_at", datetime(2024, 1, 15, 9, 0, tzinfo=UTC))
    fields.setdefault("duration_seconds", 3600)
    entry = WorkEntry.objects.create(tracker=tracker, external_id=external_id, **fields)
    if task is not None:
        WorkEntryMatch.objects.create(work_entry=entry, task=task, work_match=work_match, matched_at=matched_at)
    return entry


def stored_match(entry: WorkEntry) -> tuple:
    """(task id, work match id, matched_at) stored for the entry; Nones if it is unmatched."""
    match = WorkEntryMatch.objects.filter(work_entry_id=entry.id).first()
    return (match.task_id, match.work_match_id, match.matched_at) if match else (None, None, None)


def make_work_match(
    tracker: Tracker, match_on: str, source_work_trackers: list[Tracker] | None = None, **fields: Any
) -> WorkMatch:
    work_match = WorkMatch.objects.create(tracker=tracker, match_on=match_on, **fields)
    if source_work_trackers:
        work_match.source_work_trackers.set(source_work_trackers)
    return work_match
