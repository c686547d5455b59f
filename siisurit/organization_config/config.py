"""The validated content of an organization configuration file; every item keeps its line for later errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from siisurit.secrets import Secret


@dataclass(frozen=True)
class ProfileConfig:
    username: str
    line: int


@dataclass(frozen=True)
class UserMappingEntryConfig:
    external_username: str
    username: str
    line: int


@dataclass(frozen=True)
class UserMappingConfig:
    name: str
    fallback: str
    entries: list[UserMappingEntryConfig]
    line: int


@dataclass(frozen=True)
class TaskConfig:
    code: str
    title: str
    estimate_hours: Decimal | None
    line: int


@dataclass(frozen=True)
class WorkMatchConfig:
    match_on: str
    source_work_trackers: list[str]
    priority: int
    target_task: str
    text_pattern: str
    breadcrumb_trail_pattern: str
    line: int
    key_path: str
    target_task_line: int
    #: Each name of `source_work_trackers` with its line.
    source_lines: list[tuple[str, int]]


@dataclass(frozen=True)
class TrackerConfig:
    name: str
    api_kind: str
    api_location: str
    api_base_url: str
    api_token: Secret
    api_username: str
    api_custom_assignee_fields: str
    user_mapping: str
    tasks: list[TaskConfig]
    work_matches: list[WorkMatchConfig]
    line: int
    key_path: str


@dataclass(frozen=True)
class ProjectConfig:
    code: str
    name: str
    trackers: list[TrackerConfig]
    line: int


@dataclass(frozen=True)
class OrganizationConfig:
    path: Path
    code: str
    name: str
    timezone: str
    default_username: str
    profiles: list[ProfileConfig]
    user_mappings: list[UserMappingConfig]
    projects: list[ProjectConfig]
    line: int
    #: (username, line, key) of every username the file mentions, to check that the users exist.
    username_references: list[tuple[str, int, str]] = field(default_factory=list)
