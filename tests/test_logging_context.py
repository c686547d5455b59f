"""Log lines of a job carry its job id and project; outside a job they carry `-`."""

from __future__ import annotations

import logging
import uuid

import pytest

from siisurit.jobs import JOBS, Job, job_execute
from siisurit.logging_context import JobContextFilter, job_log_context, job_log_context_begin, job_log_context_end
from tests.factories import make_organization, make_project, make_tracker
from workers.signals import enter_job_log_context, leave_job_log_context


def _tagged(message: str) -> tuple[str, str]:
    record = logging.LogRecord("siisurit.test", logging.INFO, __file__, 1, message, None, None)
    assert JobContextFilter().filter(record)
    return record.job_id, record.project


def test_lines_inside_a_job_carry_job_and_project():
    with job_log_context(job_id="job-1", project="acme/web"):
        assert _tagged("inside") == ("job-1", "acme/web")
    assert _tagged("after") == ("-", "-")


def test_worker_signals_start_and_end_the_context_of_a_task():
    enter_job_log_context(task_id="task-7")
    with job_log_context(project="acme/app"):
        assert _tagged("in the job") == ("task-7", "acme/app")
    assert _tagged("between") == ("task-7", "-")
    leave_job_log_context(task_id="task-7")
    assert _tagged("after the task") == ("-", "-")


def test_ending_a_context_that_began_elsewhere_is_harmless():
    job_log_context_begin(job_id="job-2")
    job_log_context_end()
    job_log_context_end()
    assert _tagged("after") == ("-", "-")


def _project_of_lines(**kwargs: str) -> dict:
    """What the log lines of a job with these arguments carry as project."""
    return {"project": _tagged("in the job")[1]}


@pytest.mark.parametrize("global_lock", [False, True], ids=["without a lock", "read with the lock"])
@pytest.mark.django_db(transaction=True)  # the lock's own session sees committed rows only
def test_the_lines_of_a_job_about_a_tracker_or_project_name_its_organization_and_project(monkeypatch, global_lock):
    job = Job(
        "test_project_of_lines", _project_of_lines, "maintenance", "tests.worker", "lines", global_lock=global_lock
    )
    monkeypatch.setitem(JOBS, job.name, job)
    project = make_project(make_organization("acme"), "web")
    tracker = make_tracker(project)

    def project_of(**kwargs: str) -> str:
        return job_execute("test_project_of_lines", kwargs, job_id="job-3")["project"]

    assert project_of(tracker_id=str(tracker.id)) == "acme/web"
    assert project_of(project_id=str(project.id)) == "acme/web"
    assert project_of(tracker_id=str(uuid.uuid4())) == "-"  # gone meanwhile: the job itself says so
    assert project_of(organization_code="acme") == "-"


@pytest.mark.django_db
def test_a_locked_job_on_rows_not_committed_yet_still_names_their_project(monkeypatch):
    job = Job("test_project_of_lines", _project_of_lines, "maintenance", "tests.worker", "lines", global_lock=True)
    monkeypatch.setitem(JOBS, job.name, job)
    tracker = make_tracker(make_project(make_organization("acme"), "web"))  # in this test's open transaction

    summary = job_execute("test_project_of_lines", {"tracker_id": str(tracker.id)}, job_id="job-4")

    assert summary["project"] == "acme/web"
