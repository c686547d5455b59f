"""Organization configuration files for tests, and where things are in them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from siisurit.environment import Environment

GITHUB_TOKEN = "ghp_very-secret-github-token-4711"
KIMAI_TOKEN = "kimai-very-secret-token-0815"

BASE_YAML = r"""organization:
  name: Test LLC
  code: test
  timezone: Europe/Vienna
  organization_profiles:
    - username: alice
    - username: bob
  user_mappings:
    - name: kimai.example.com
      fallback: default
      external_usernames_to_username:
        - external_username: a.adams
          username: alice
  projects:
    - code: app
      name: App
      trackers:
        - name: app-kimai
          api_kind: kimai
          api_location: "http://127.0.0.1:9/kimai"
          api_token: ${TEST_KIMAI_TOKEN}
          user_mapping: kimai.example.com
        - name: app-github
          api_kind: github
          api_location: "git@github.com:someone/anything.git"
          api_username: someone
          api_token: ${TEST_GITHUB_TOKEN}
          tasks:
            - {title: Various, code: various, estimates: 0}
          work_matches:
            - match_on: pattern_to_task_code
              source_work_trackers: [app-kimai]
              priority: 100
              text_pattern: "^(?P<task_code>#\\d+).*"
            - match_on: always
              source_work_trackers: app-kimai
              target_task: various
              priority: 1
    - code: site
      name: Site
      trackers:
        - name: site-gitlab
          api_kind: gitlab
          api_location: "https://gitlab.example.com/group/site"
"""


def edited(text: str, old: str, new: str) -> str:
    """`text` with the first `old` replaced by `new` (which must be there: tests must not silently drift)."""
    assert old in text, f"{old!r} is not in the file"
    return text.replace(old, new, 1)


def line_of(text: str, marker: str) -> int:
    """The line number (1-based) of the first occurrence of `marker`."""
    assert marker in text, f"{marker!r} is not in the file"
    return text[: text.index(marker)].count("\n") + 1


def write_file(directory: Path, text: str, name: str = "organization.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def token_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables BASE_YAML refers to, visible to `settings.ENV` as the process environment."""
    monkeypatch.setenv("TEST_GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("TEST_KIMAI_TOKEN", KIMAI_TOKEN)
    monkeypatch.setattr(settings, "ENV", Environment(None))
