"""The admin as an operator uses it: last downloads on trackers, downloaded data read-only, owned config marked."""

from __future__ import annotations

import pytest

from sandbox import SandboxTrackers
from siisurit.downloads.service import tracker_download
from siisurit.errors import PermanentError
from siisurit.models import DownloadOutcome, Tracker
from siisurit.secrets import Secret
from tests.factories import make_organization, make_project, make_task, make_tracker, make_work_entry

pytestmark = pytest.mark.django_db


# `admin_client` (pytest-django): a client logged in as a superuser.


def github_tracker(sandbox, name: str = "webshop-github") -> Tracker:
    project = make_project(make_organization("acme"), "webshop")
    return make_tracker(
        project, name, api_kind="github", api_location=sandbox.api_location("github"), api_token=sandbox.token("github")
    )


def test_the_tracker_keeps_how_its_last_download_ended():
    with SandboxTrackers(seed=13, task_count={"github": 30}, entry_count={"kimai": 0, "clockodo": 0}) as sandbox:
        tracker = github_tracker(sandbox)
        summary = tracker_download(tracker_id=str(tracker.id))
        tracker.refresh_from_db()
        assert (tracker.last_download_outcome, tracker.last_download_items, tracker.last_download_error) == (
            DownloadOutcome.SUCCEEDED,
            summary["items"],
            "",
        )
        succeeded_at, last_success = tracker.last_download_at, tracker.last_downloaded_at

        tracker.api_token = Secret("wrong-token-of-the-test")
        tracker.save()
        with pytest.raises(PermanentError) as failure:
            tracker_download(tracker_id=str(tracker.id))
    tracker.refresh_from_db()

    assert tracker.last_download_outcome == DownloadOutcome.FAILED
    assert tracker.last_download_error == str(failure.value) != ""
    assert "wrong-token-of-the-test" not in tracker.last_download_error
    assert tracker.last_download_at > succeeded_at
    assert tracker.last_download_items == summary["items"], "the items of the last success stay"
    assert tracker.last_downloaded_at == last_success


def test_the_tracker_list_shows_the_last_download_and_a_failing_tracker_stands_out(admin_client):
    project = make_project(make_organization("acme"), "webshop")
    make_tracker(project, "healthy", last_download_outcome="succeeded", last_download_items=1234)
    make_tracker(project, "broken", last_download_outcome="failed", last_download_error="HTTP 401: check the token")

    page = admin_client.get("/admin/siisurit/tracker/").content.decode()

    rows = {row.split("</tr>")[0] for row in page.split("<tr")[1:]}
    broken = next(row for row in rows if ">broken<" in row)
    healthy = next(row for row in rows if ">healthy<" in row)
    assert "last-download-failed" in broken and "HTTP 401: check the token" in broken
    assert "last-download-failed" not in healthy and "1234" in healthy and "succeeded" in healthy
    assert "acme/webshop" in broken
    assert "update_organization" in page


def test_task_and_work_entry_lists_name_trackers_with_organization_and_project_and_show_hours(admin_client):
    tracker = make_tracker(make_project(make_organization("acme"), "webshop"), "webshop-github")
    make_tracker(make_project(tracker.project.organization, "mobile"), "webshop-github")
    make_task(tracker, code="#7", title="Checkout")
    make_work_entry(make_tracker(tracker.project, "kimai", api_kind="kimai"), duration_seconds=5400)

    tasks = admin_client.get("/admin/siisurit/task/").content.decode()
    entries = admin_client.get("/admin/siisurit/workentry/").content.decode()

    assert "acme/webshop/webshop-github" in tasks
    assert "acme/webshop/kimai" in entries and "1.50" in entries


def test_downloaded_data_is_read_only(admin_client):
    task = make_task(make_tracker(make_project(make_organization("acme"), "webshop"), "gh"), title="Checkout")
    entry = make_work_entry()

    assert admin_client.get(f"/admin/siisurit/task/{task.id}/change/").status_code == 200
    assert admin_client.post(f"/admin/siisurit/task/{task.id}/change/", {"title": "edited"}).status_code == 403
    assert admin_client.get("/admin/siisurit/task/add/").status_code == 403
    assert admin_client.post(f"/admin/siisurit/workentry/{entry.id}/delete/", {"post": "yes"}).status_code == 403
    task.refresh_from_db()
    assert task.title == "Checkout"
    assert "next download overwrites" in admin_client.get("/admin/siisurit/task/").content.decode()


def test_configuration_from_the_organization_file_is_marked_as_such(admin_client):
    tracker = make_tracker(make_project(make_organization("acme"), "webshop"), "gh")

    for path in (
        f"/admin/siisurit/organization/{tracker.project.organization.id}/change/",
        f"/admin/siisurit/project/{tracker.project.id}/change/",
        f"/admin/siisurit/tracker/{tracker.id}/change/",
        "/admin/siisurit/tracker/",
    ):
        assert "manage.py update_organization" in admin_client.get(path).content.decode(), path
