"""`match_project ORG [PROJECT]` runs the match_project job and prints its summary."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from siisurit.models import ApiKind, MatchOn, WorkEntry
from tests.factories import make_organization, make_project, make_task, make_tracker, make_work_entry, make_work_match

pytestmark = pytest.mark.django_db


def _project_with_one_rule(organization, code: str):
    project = make_project(organization, code=code)
    kimai = make_tracker(project, name="kimai", api_kind=ApiKind.KIMAI)
    github = make_tracker(project, name="github", api_kind=ApiKind.GITHUB)
    various = make_task(github, code="various", is_declared=True)
    make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], target_task=various)
    make_work_entry(kimai)
    return project


def _summaries(output: str) -> dict[str, dict]:
    """`match org/project: done (job …) {json}` lines by title."""
    lines = [line for line in output.splitlines() if ": done (job " in line]
    return {line.split(":")[0]: json.loads(line[line.index("{") :]) for line in lines}


def test_matches_all_projects_of_an_organization():
    organization = make_organization(code="acme")
    _project_with_one_rule(organization, "app")
    _project_with_one_rule(organization, "web")
    out = StringIO()

    call_command("match_project", "acme", "--sync", "--no-progress-bar", stdout=out, stderr=StringIO(), verbosity=2)

    summaries = _summaries(out.getvalue())
    assert set(summaries) == {"match acme/app", "match acme/web"}
    assert all(
        (summary["entries"], summary["matched"], summary["changed"]) == (1, 1, 1) for summary in summaries.values()
    )
    assert WorkEntry.objects.filter(match__isnull=True).count() == 0


def test_matches_one_project():
    organization = make_organization(code="acme")
    _project_with_one_rule(organization, "app")
    other = _project_with_one_rule(organization, "web")
    out = StringIO()

    call_command(
        "match_project", "acme", "app", "--sync", "--no-progress-bar", stdout=out, stderr=StringIO(), verbosity=2
    )

    assert set(_summaries(out.getvalue())) == {"match acme/app"}
    assert WorkEntry.objects.filter(tracker__project=other, match__isnull=True).count() == 1


@pytest.mark.parametrize(("args", "message"), [(["nope"], "organization 'nope'"), (["acme", "nope"], "project 'nope'")])
def test_unknown_organization_or_project_is_a_command_error(args, message):
    make_organization(code="acme")
    with pytest.raises(CommandError, match=message):
        call_command("match_project", *args, "--sync", stdout=StringIO(), stderr=StringIO())


@pytest.mark.worker
@pytest.mark.usefixtures("celery_worker_thread")
def test_waits_for_the_match_on_a_real_worker():
    organization = make_organization(code="acme")
    _project_with_one_rule(organization, "app")
    out = StringIO()

    call_command(
        "match_project", "acme", "--timeout", "60", "--no-progress-bar", stdout=out, stderr=StringIO(), verbosity=2
    )

    (summary,) = _summaries(out.getvalue()).values()
    assert (summary["job"], summary["entries"], summary["matched"], summary["changed"]) == ("match_project", 1, 1, 1)
    assert WorkEntry.objects.filter(match__isnull=True).count() == 0
