"""Checks of a configuration against the database: users exist, target tasks exist, declared codes are free."""

from __future__ import annotations

from siisurit.connectors.locations import credentials_origin
from siisurit.models import Task, Tracker, User
from siisurit.organization_config.config import OrganizationConfig
from siisurit.organization_config.errors import ConfigProblem, OrganizationConfigError


def config_check_references(config: OrganizationConfig, *, token_moves_allowed: bool = False) -> dict[str, User]:
    """The users the file names, by username; raises OrganizationConfigError for anything that does not exist.

    Also refuses a stored token moving to another host unless `token_moves_allowed`.
    """
    problems: list[ConfigProblem] = []
    usernames = {username for username, _, _ in config.username_references}
    users = {user.username: user for user in User.objects.filter(username__in=usernames)}
    for username, line, key in config.username_references:
        if username not in users:
            problems.append(
                ConfigProblem(
                    config.path, line, key, f"unknown user '{username}' (create it first, e.g. with make_users)"
                )
            )
    if not token_moves_allowed:
        problems.extend(_tokens_moved_to_another_host(config))
    downloaded = _downloaded_task_codes(config)
    for project in config.projects:
        for tracker in project.trackers:
            tracker_downloaded = downloaded.get((project.code, tracker.name), set())
            declared = {task.code for task in tracker.tasks}
            for task in tracker.tasks:
                if task.code in tracker_downloaded:
                    problems.append(
                        ConfigProblem(
                            config.path,
                            task.line,
                            f"{tracker.key_path}.tasks",
                            f"task code '{task.code}' is already used by a downloaded task of tracker '{tracker.name}'",
                        )
                    )
            for work_match in tracker.work_matches:
                target = work_match.target_task
                if target and target not in declared and target not in tracker_downloaded:
                    problems.append(
                        ConfigProblem(
                            config.path,
                            work_match.target_task_line,
                            f"{work_match.key_path}.target_task",
                            f"unknown task '{target}' (neither declared in tasks of tracker '{tracker.name}' "
                            "nor downloaded)",
                        )
                    )
    if problems:
        raise OrganizationConfigError(problems)
    return users


def _tokens_moved_to_another_host(config: OrganizationConfig) -> list[ConfigProblem]:
    """A stored token goes only to the host it was entered for: a file moving a tracker must give a new token."""
    stored = {
        (tracker.project.code, tracker.name): tracker
        for tracker in Tracker.objects.filter(project__organization__code=config.code).select_related("project")
    }
    problems = []
    for project in config.projects:
        for tracker_config in project.trackers:
            tracker = stored.get((project.code, tracker_config.name))
            token = tracker_config.api_token.reveal()
            if tracker is None or not token or token != tracker.api_token.reveal():
                continue
            old = credentials_origin(tracker.api_location, tracker.api_base_url)
            new = credentials_origin(tracker_config.api_location, tracker_config.api_base_url)
            if old != new:
                key = "api_base_url" if tracker_config.api_base_url or tracker.api_base_url else "api_location"
                problems.append(
                    ConfigProblem(
                        config.path,
                        tracker_config.line,
                        f"{tracker_config.key_path}.{key}",
                        f"moves tracker '{tracker_config.name}' from {old} to {new} with the same api_token: a token "
                        "is only sent to the host it was entered for; give the token of the new host",
                    )
                )
    return problems


def _downloaded_task_codes(config: OrganizationConfig) -> dict[tuple[str, str], set[str]]:
    """Codes of downloaded tasks that the file declares or targets, per (project code, tracker name)."""
    codes = {task.code for project in config.projects for tracker in project.trackers for task in tracker.tasks}
    codes |= {
        work_match.target_task
        for project in config.projects
        for tracker in project.trackers
        for work_match in tracker.work_matches
        if work_match.target_task
    }
    result: dict[tuple[str, str], set[str]] = {}
    rows = Task.objects.filter(
        tracker__project__organization__code=config.code, is_declared=False, code__in=codes
    ).values_list("tracker__project__code", "tracker__name", "code")
    for project_code, tracker_name, code in rows:
        result.setdefault((project_code, tracker_name), set()).add(code)
    return result
