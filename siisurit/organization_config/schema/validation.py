"""Structural validation of an organization configuration: keys, types, patterns and references inside the file.

Everything is checked before anything is written; all problems are reported at once, each naming file, line and key.
"""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Any

from siisurit.connectors.locations import api_base_url_problem
from siisurit.matching.bounds import pattern_problem
from siisurit.models import ApiKind, MatchOn, UserMapping
from siisurit.organization_config.config import (
    OrganizationConfig,
    ProfileConfig,
    ProjectConfig,
    TaskConfig,
    TrackerConfig,
    UserMappingConfig,
    UserMappingEntryConfig,
    WorkMatchConfig,
)
from siisurit.organization_config.errors import ConfigProblem, OrganizationConfigError
from siisurit.organization_config.loader import LineDict
from siisurit.organization_config.schema.section import Section, type_name
from siisurit.organization_config.variables import Lookup
from siisurit.secrets import Secret

MATCH_ON_ALIASES = {"always": MatchOn.ALWAYS_TO_TASK.value}
_TARGET_TASK_KINDS = {MatchOn.ALWAYS_TO_TASK, MatchOn.PATTERN_TO_TASK}
_PATTERN_KINDS = {MatchOn.PATTERN_TO_TASK, MatchOn.PATTERN_TO_TASK_CODE}
_CODE_PATTERN = re.compile(r"^[-a-zA-Z0-9_]+$")
_TASK_CODE_GROUP = "task_code"


def config_validate(data: Any, *, path: Path, lookup: Lookup) -> OrganizationConfig:
    """The typed configuration of a loaded YAML document; raises OrganizationConfigError listing every problem."""
    problems: list[ConfigProblem] = []
    if not isinstance(data, LineDict):
        line = getattr(data, "line", 1)
        raise OrganizationConfigError(
            [
                ConfigProblem(
                    path, line, "", f"the file must hold a mapping with key 'organization', not {type_name(data)}"
                )
            ]
        )
    root = Section(data, key_path="", path=path, problems=problems, lookup=lookup)
    organization_data = root._value("organization", True)
    root.check_unknown_keys()
    if organization_data is not None and not isinstance(organization_data, LineDict):
        root.problem("organization", f"must be a mapping, not {type_name(organization_data)}")
        organization_data = None
    if organization_data is None:
        raise OrganizationConfigError(problems)
    organization = Section(organization_data, key_path="organization", path=path, problems=problems, lookup=lookup)
    config = _organization(organization)
    if problems:
        raise OrganizationConfigError(problems)
    return config


def _organization(section: Section) -> OrganizationConfig:
    code = _code(section, "code")
    name = section.text("name", required=True, max_length=200)
    timezone = section.text("timezone", default="UTC", max_length=64)
    if "timezone" in section.data and not _is_timezone(timezone):
        section.problem("timezone", f"invalid timezone {timezone!r} (expected an IANA name like Europe/Vienna)")
    default_username = section.text("default_username")
    username_references: list[tuple[str, int, str]] = []
    profiles = _profiles(section, username_references)
    if default_username:
        username_references.append((default_username, section.key_line("default_username"), "default_username"))
        if default_username not in {profile.username for profile in profiles}:
            section.problem("default_username", f"user '{default_username}' is not one of organization_profiles")
    elif profiles:
        default_username = profiles[0].username
    user_mappings = _user_mappings(section, username_references)
    mapping_names = {mapping.name for mapping in user_mappings}
    projects = _projects(section, mapping_names)
    section.check_unknown_keys()
    return OrganizationConfig(
        path=section.path,
        code=code,
        name=name,
        timezone=timezone,
        default_username=default_username,
        profiles=profiles,
        user_mappings=user_mappings,
        projects=projects,
        line=section.line,
        username_references=username_references,
    )


def _profiles(parent: Section, username_references: list[tuple[str, int, str]]) -> list[ProfileConfig]:
    profiles: list[ProfileConfig] = []
    first_lines: dict[str, int] = {}
    for section in parent.sections("organization_profiles"):
        username = section.text("username", required=True, max_length=150)
        section.check_unknown_keys()
        if not username:
            continue
        if not _first_occurrence(section, "username", username, first_lines, "member"):
            continue
        username_references.append((username, section.key_line("username"), section.child_path("username")))
        profiles.append(ProfileConfig(username=username, line=section.line))
    return profiles


def _user_mappings(parent: Section, username_references: list[tuple[str, int, str]]) -> list[UserMappingConfig]:
    mappings: list[UserMappingConfig] = []
    first_lines: dict[str, int] = {}
    fallbacks = [choice.value for choice in UserMapping.Fallback]
    for section in parent.sections("user_mappings"):
        name = section.text("name", required=True, max_length=200)
        fallback = section.text("fallback")
        if fallback not in fallbacks:
            section.problem("fallback", f'unknown fallback {fallback!r} (expected "default" or nothing)')
        entries = _user_mapping_entries(section, username_references)
        section.check_unknown_keys()
        if not _first_occurrence(section, "name", name, first_lines, "user mapping"):
            continue
        mappings.append(UserMappingConfig(name=name, fallback=fallback, entries=entries, line=section.line))
    return mappings


def _user_mapping_entries(
    parent: Section, username_references: list[tuple[str, int, str]]
) -> list[UserMappingEntryConfig]:
    entries: list[UserMappingEntryConfig] = []
    first_lines: dict[str, int] = {}
    for section in parent.sections("external_usernames_to_username"):
        external_username = section.text("external_username", required=True, max_length=200)
        username = section.text("username", required=True, max_length=150)
        section.check_unknown_keys()
        if not external_username or not username:
            continue
        if not _first_occurrence(section, "external_username", external_username, first_lines, "external username"):
            continue
        username_references.append((username, section.key_line("username"), section.child_path("username")))
        entries.append(
            UserMappingEntryConfig(external_username=external_username, username=username, line=section.line)
        )
    return entries


def _projects(parent: Section, mapping_names: set[str]) -> list[ProjectConfig]:
    projects: list[ProjectConfig] = []
    first_lines: dict[str, int] = {}
    for section in parent.sections("projects"):
        code = _code(section, "code")
        name = section.text("name", required=True, max_length=200)
        trackers = _trackers(section, mapping_names)
        section.check_unknown_keys()
        if not _first_occurrence(section, "code", code, first_lines, "project code"):
            continue
        projects.append(ProjectConfig(code=code, name=name, trackers=trackers, line=section.line))
    return projects


def _trackers(parent: Section, mapping_names: set[str]) -> list[TrackerConfig]:
    trackers: list[TrackerConfig] = []
    first_lines: dict[str, int] = {}
    api_kinds = [choice.value for choice in ApiKind]
    for section in parent.sections("trackers"):
        name = section.text("name", required=True, max_length=200)
        api_kind = section.text("api_kind", required=True)
        if api_kind and api_kind not in api_kinds:
            section.problem("api_kind", f"unknown api_kind {api_kind!r} (expected one of: {', '.join(api_kinds)})")
        user_mapping = section.text("user_mapping")
        if user_mapping and user_mapping not in mapping_names:
            section.problem("user_mapping", f"unknown user mapping '{user_mapping}' (not declared in user_mappings)")
        custom_fields = section.text_list("api_custom_assignee_fields")
        tracker = TrackerConfig(
            name=name,
            api_kind=api_kind,
            api_location=section.text("api_location", max_length=500),
            api_base_url=_api_base_url(section),
            api_token=Secret(section.text("api_token")),
            api_username=section.text("api_username", max_length=200),
            api_custom_assignee_fields=",".join(field.strip() for field, _ in custom_fields if field.strip()),
            user_mapping=user_mapping,
            tasks=_tasks(section),
            work_matches=[],
            line=section.line,
            key_path=section.key_path,
        )
        if len(tracker.api_custom_assignee_fields) > 500:
            section.problem("api_custom_assignee_fields", "is too long (at most 500 characters)")
        work_match_sections = section.sections("work_matches")
        section.check_unknown_keys()
        if not _first_occurrence(section, "name", name, first_lines, "tracker name"):
            continue
        trackers.append(tracker)
        tracker.work_matches.extend(_work_match(work_match_section) for work_match_section in work_match_sections)
    tracker_names = set(first_lines)
    for tracker in trackers:
        for work_match in tracker.work_matches:
            for source_name, line in work_match.source_lines:
                if source_name not in tracker_names:
                    parent.problems.append(
                        ConfigProblem(
                            parent.path,
                            line,
                            f"{work_match.key_path}.source_work_trackers",
                            f"unknown tracker '{source_name}' (not a tracker of this project)",
                        )
                    )
    return trackers


def _tasks(parent: Section) -> list[TaskConfig]:
    tasks: list[TaskConfig] = []
    first_lines: dict[str, int] = {}
    for section in parent.sections("tasks"):
        code = section.text("code", required=True, max_length=100)
        title = section.text("title", max_length=1000) or code
        estimate_hours = section.decimal("estimates")
        section.check_unknown_keys()
        if not _first_occurrence(section, "code", code, first_lines, "task code"):
            continue
        tasks.append(TaskConfig(code=code, title=title, estimate_hours=estimate_hours, line=section.line))
    return tasks


def _work_match(section: Section) -> WorkMatchConfig:
    match_on = section.text("match_on", required=True)
    match_on = MATCH_ON_ALIASES.get(match_on, match_on)
    match_kinds = [choice.value for choice in MatchOn]
    if match_on and match_on not in match_kinds:
        section.problem(
            "match_on", f"unknown match_on {match_on!r} (expected one of: {', '.join(match_kinds)}, or always)"
        )
    sources = section.text_list("source_work_trackers", required=True)
    priority = section.integer("priority", default=0)
    target_task = section.text("target_task")
    text_pattern = section.text("text_pattern", max_length=1000)
    breadcrumb_trail_pattern = section.text("breadcrumb_trail_pattern", max_length=1000)
    section.check_unknown_keys()
    compiled = {
        key: _compiled_pattern(section, key, pattern)
        for key, pattern in (("text_pattern", text_pattern), ("breadcrumb_trail_pattern", breadcrumb_trail_pattern))
        if pattern
    }
    _check_rule_kind(section, match_on, target_task, compiled)
    return WorkMatchConfig(
        match_on=match_on,
        source_work_trackers=[name for name, _ in sources],
        priority=priority,
        target_task=target_task,
        text_pattern=text_pattern,
        breadcrumb_trail_pattern=breadcrumb_trail_pattern,
        line=section.line,
        key_path=section.key_path,
        target_task_line=section.key_line("target_task"),
        source_lines=sources,
    )


def _check_rule_kind(section: Section, match_on: str, target_task: str, compiled: dict[str, re.Pattern | None]) -> None:
    if match_on in _TARGET_TASK_KINDS and not target_task:
        section.problem("", f"match_on {match_on} needs a target_task")
    if match_on not in _TARGET_TASK_KINDS and target_task and match_on:
        section.problem("target_task", f"is not used by match_on {match_on}")
    if match_on not in _PATTERN_KINDS and compiled and match_on:
        section.problem(next(iter(compiled)), f"is not used by match_on {match_on}")
    if match_on in _PATTERN_KINDS and not compiled:
        section.problem("", f"match_on {match_on} needs a text_pattern or a breadcrumb_trail_pattern")
    if match_on == MatchOn.PATTERN_TO_TASK_CODE and compiled and all(compiled.values()):
        with_group = [key for key, pattern in compiled.items() if _TASK_CODE_GROUP in pattern.groupindex]
        if len(with_group) != 1:
            section.problem(
                "",
                f"match_on {match_on} needs a named group (?P<task_code>…) in exactly one of text_pattern and "
                f"breadcrumb_trail_pattern, found {len(with_group)}",
            )


def _compiled_pattern(section: Section, key: str, pattern: str) -> re.Pattern | None:
    problem = pattern_problem(pattern)
    if problem:
        section.problem(key, problem)
        return None
    return re.compile(pattern)


def _api_base_url(section: Section) -> str:
    value = section.text("api_base_url", max_length=500)
    problem = api_base_url_problem(value)
    if problem:
        section.problem("api_base_url", problem)
    return value.strip()


def _code(section: Section, key: str) -> str:
    code = section.text(key, required=True, max_length=100)
    if code and not _CODE_PATTERN.match(code):
        section.problem(key, f"invalid code {code!r} (use letters, digits, '-' and '_' only)")
    return code


def _is_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _first_occurrence(section: Section, key: str, value: str, first_lines: dict[str, int], what: str) -> bool:
    """True the first time `value` appears; a later time reports a duplicate naming the line of the first."""
    if value in first_lines:
        section.problem(key, f"duplicate {what} '{value}' (first on line {first_lines[value]})")
        return False
    first_lines[value] = section.key_line(key)
    return True
