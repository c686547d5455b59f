"""`update_project`: one job per project; downloads, matching and reports under the project's lock."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from siisurit.errors import AlreadyRunningError
from siisurit.jobs import job_execute
from siisurit.jobs.lock import job_lock
from tests.factories import make_organization, make_project, make_tracker

pytestmark = pytest.mark.django_db(transaction=True)


def test_update_project_runs_one_job_per_project(clean_queues):
    organization = make_organization(code="acme")
    make_project(organization, code="alpha")
    make_project(organization, code="beta")
    stdout = io.StringIO()

    call_command("update_project", "acme", "--sync", stdout=stdout, stderr=io.StringIO())

    assert "update acme/alpha: done" in stdout.getvalue()
    assert "update acme/beta: done" in stdout.getvalue()


def test_update_project_on_the_worker_matches_and_rebuilds_reports(celery_worker_thread):
    make_project(make_organization(code="acme"), code="alpha")
    stdout = io.StringIO()

    call_command("update_project", "acme", "alpha", "--timeout", "60", stdout=stdout, stderr=io.StringIO(), verbosity=2)

    assert '"trackers": 0' in stdout.getvalue()
    assert '"match": {' in stdout.getvalue()


def test_update_of_a_project_already_updating_fails_fast(clean_queues):
    project = make_project(make_organization(code="acme"), code="alpha")

    with job_lock(f"update_project:{project.id}", job_id="beat-job"):
        with pytest.raises(AlreadyRunningError, match=r"already running \(job id beat-job\)"):
            job_execute("update_project", {"project_id": str(project.id)}, job_id="manual-job")
        stderr = io.StringIO()
        with pytest.raises(CommandError):
            call_command("update_project", "acme", "alpha", "--sync", stdout=io.StringIO(), stderr=stderr)
        assert "beat-job" in stderr.getvalue()


def test_unknown_organization_or_project_is_a_command_error():
    make_organization(code="acme")

    with pytest.raises(CommandError, match=r"unknown organization 'nope' \(known: acme\)"):
        call_command("update_project", "nope", "--sync")
    with pytest.raises(CommandError, match=r"unknown project 'nope' in organization 'acme' \(known: none\)"):
        call_command("update_project", "acme", "nope", "--sync")


def test_in_process_update_of_all_projects_goes_on_after_a_failing_project(clean_queues):
    organization = make_organization(code="acme")
    broken = make_project(organization, code="broken")
    make_tracker(broken, name="gone", api_kind="github", api_location="http://127.0.0.1:9/acme/gone")
    make_project(organization, code="fine")

    summary = job_execute("update_all_projects", {"sync": True}, job_id="test-update-all")

    assert summary["projects"] == 2
    assert [failure["project_id"] for failure in summary["failed"]] == [str(broken.id)]
    assert "gone" in summary["failed"][0]["error"]
