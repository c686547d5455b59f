"""Every command taking an organization or project code answers an unknown code with the known ones."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.factories import make_organization, make_project

pytestmark = pytest.mark.django_db

_UNKNOWN_ORGANIZATION = {
    "update_project": ["update_project", "nope", "--sync"],
    "match_project": ["match_project", "nope", "--sync"],
    "download_tracker": ["download_tracker", "nope", "app", "--sync"],
    "clear_caches": ["clear_caches", "--organization", "nope", "--sync"],
    "remove_organization": ["remove_organization", "nope", "--no-input"],
}
_UNKNOWN_PROJECT = {
    "update_project": ["update_project", "acme", "nope", "--sync"],
    "match_project": ["match_project", "acme", "nope", "--sync"],
    "download_tracker": ["download_tracker", "acme", "nope", "--sync"],
    "clear_caches": ["clear_caches", "--organization", "acme", "--project", "nope", "--sync"],
}


@pytest.fixture(autouse=True)
def organizations():
    acme = make_organization(code="acme")
    make_project(acme, code="app")
    make_project(acme, code="site")
    make_organization(code="beta")


def _error(arguments: list[str]) -> str:
    with pytest.raises(CommandError) as caught:
        call_command(*arguments, stdout=io.StringIO(), stderr=io.StringIO())
    return str(caught.value)


@pytest.mark.parametrize("command", _UNKNOWN_ORGANIZATION)
def test_an_unknown_organization_lists_the_known_ones(command):
    assert _error(_UNKNOWN_ORGANIZATION[command]) == "unknown organization 'nope' (known: acme, beta)"


@pytest.mark.parametrize("command", _UNKNOWN_PROJECT)
def test_an_unknown_project_lists_the_organization_s_projects(command):
    assert _error(_UNKNOWN_PROJECT[command]) == "unknown project 'nope' in organization 'acme' (known: app, site)"
