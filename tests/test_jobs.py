"""One declaration per job: tasks, routes, queues, Celery imports, beat and the command's task all agree with it;
"update all projects" through the job runner under its global lock; commands start all their jobs before waiting;
a worker without -Q consumes every queue."""

from __future__ import annotations

import inspect
import io
import threading
from importlib import import_module

import pytest
from celery.result import AsyncResult
from django.core.management import call_command

from beat_schedule import BEAT_ENTRIES
from siisurit.errors import AlreadyRunningError
from siisurit.ids import new_id
from siisurit.jobs import JOBS, QUEUES, JobRequest, job_execute, task_modules
from siisurit.jobs.catalog import CATALOG
from siisurit.jobs.lock import job_lock
from siisurit.management.base import JobCommand
from tests.factories import make_organization, make_project, make_tracker
from tests.processes import wait_for
from tests.worker import (
    SubprocessWorker,
    release,
    sessions,
    wait_until_started,
)
from workers.app import app
from workers.dispatch import consumed_queues, job_task
from workers.task_base import JobTask


@pytest.mark.parametrize("job", CATALOG, ids=lambda job: job.name)
def test_the_task_route_and_arguments_of_a_job_follow_its_declaration(job):
    task = app.tasks[job.task_name]

    assert isinstance(task, JobTask) and task.job_name == job.name
    assert getattr(import_module(job.task_module), job.name).name == job.task_name
    assert job_task(app, job.name) is task
    assert app.amqp.router.route({}, job.task_name)["queue"].name == job.queue
    service_arguments = [name for name in inspect.signature(job.service).parameters if name != "progress"]
    assert list(inspect.signature(task.run).parameters) == service_arguments


def test_queues_imports_and_beat_agree_with_the_declared_jobs():
    assert set(QUEUES) == {job.queue for job in CATALOG}
    assert [queue.name for queue in app.conf.task_queues] == list(QUEUES)
    assert app.conf.task_default_queue in QUEUES
    assert set(app.conf.imports) == {job.task_module for job in CATALOG} <= set(task_modules())
    assert {task for _, task, _ in BEAT_ENTRIES} <= {job.task_name for job in CATALOG}
    job_tasks = {name for name, task in app.tasks.items() if isinstance(task, JobTask) and name.startswith("tasks.")}
    assert job_tasks == {job.task_name for job in CATALOG}
    assert all(JOBS[job.name] is job for job in CATALOG)


def test_task_names_stay_stable():
    assert sorted(job.task_name for job in CATALOG) == [
        "tasks.download.download_tracker",
        "tasks.maintenance.clear_caches",
        "tasks.matching.match_project",
        "tasks.reports.rebuild_reports",
        "tasks.update.update_all_projects",
        "tasks.update.update_project",
    ]


@pytest.mark.django_db(transaction=True)
def test_update_of_all_projects_runs_under_its_global_lock(clean_queues):
    make_project(make_organization(code="acme"), code="alpha")

    already_running = pytest.raises(AlreadyRunningError, match=r"update_all_projects is already running .*beat-job")
    with job_lock("update_all_projects", job_id="beat-job"), already_running:
        job_execute("update_all_projects", {"sync": True}, job_id="second")


@pytest.mark.worker
def test_update_of_all_projects_on_the_worker_starts_one_update_job_per_project(celery_worker_thread):
    organization = make_organization(code="acme")
    projects = [make_project(organization, code=code) for code in ("alpha", "beta")]

    summary = app.send_task("tasks.update.update_all_projects").get(timeout=60)

    assert summary["projects"] == 2 and summary["failed"] == []
    results = [AsyncResult(job_id, app=app).get(timeout=60) for job_id in summary["jobs"]]
    assert sorted(result["project_id"] for result in results) == sorted(str(project.id) for project in projects)
    assert all(result["job"] == "update_project" for result in results)


@pytest.mark.django_db(transaction=True)
def test_update_all_projects_command_with_sync_updates_every_project_in_this_process(clean_queues):
    make_project(make_organization(code="acme"), code="alpha")
    make_project(make_organization(code="bolt"), code="beta")
    stdout = io.StringIO()

    call_command("update_all_projects", "--sync", stdout=stdout, stderr=io.StringIO(), verbosity=2)

    assert "update all projects: done" in stdout.getvalue()
    assert '"projects": 2' in stdout.getvalue() and '"failed": []' in stdout.getvalue()


@pytest.mark.worker
def test_update_of_all_projects_on_the_worker_refuses_while_another_one_runs(celery_worker_thread):
    with job_lock("update_all_projects", job_id="beat-job"):
        result = app.send_task("tasks.update.update_all_projects")
        with pytest.raises(AlreadyRunningError, match="beat-job"):
            result.get(timeout=60)


@pytest.mark.django_db(transaction=True)
def test_a_project_with_a_tracker_without_api_kind_updates_without_downloading_it(clean_queues):
    project = make_project(make_organization(code="acme"), code="alpha")
    make_tracker(project, name="declared tasks only", api_kind="")
    stdout = io.StringIO()

    call_command("update_project", "acme", "alpha", "--sync", stdout=stdout, stderr=io.StringIO(), verbosity=2)

    assert '"trackers": 0' in stdout.getvalue()
    assert '"downloads": []' in stdout.getvalue()
    download = io.StringIO()
    call_command("download_tracker", "acme", "alpha", "--sync", stdout=download, stderr=io.StringIO())
    assert download.getvalue() == "Nothing to do.\n"


class TwoHoldingJobsCommand(JobCommand):
    """Two test jobs that each hold until released, as `update_project ORG` runs one job per project."""

    def job_requests(self, **options):
        return [JobRequest("test_counting", {"key": key, "hold_seconds": 60}, key) for key in ("first", "second")]


@pytest.mark.worker
def test_a_command_sends_all_its_jobs_before_waiting_for_the_first(celery_worker_thread):
    stdout = io.StringIO()
    command = threading.Thread(
        target=call_command, args=(TwoHoldingJobsCommand(),), kwargs={"stdout": stdout, "stderr": io.StringIO()}
    )
    command.start()
    try:
        # Both run at once on the worker: the second was sent while the first still holds.
        wait_until_started("first")
        wait_until_started("second")
    finally:
        release("first")
        release("second")
        command.join(timeout=60)
    assert "first: done" in stdout.getvalue() and "second: done" in stdout.getvalue()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_without_q_consumes_every_queue_and_q_narrows_it(clean_queues):
    # Both start at once (a worker's start takes seconds); entering each waits until it answers a ping.
    every, narrowed = SubprocessWorker(queues=None), SubprocessWorker(queues=("download",))
    with every, narrowed:

        def listed_by_both() -> dict[str, list[str]] | None:
            consumed = consumed_queues(app)  # whoever answers within a second
            return consumed if {every.name, narrowed.name} <= consumed.keys() else None

        consumed = wait_for(listed_by_both, timeout=30, what="both workers listing their queues")
        assert consumed[every.name] == sorted(QUEUES)
        assert consumed[narrowed.name] == ["download"]
        result = app.send_task("tests.worker.test_counting", kwargs={"key": "no-q"}, queue="matching")
        assert result.get(timeout=60)["completed"] == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_and_lock_sessions_from_one_job_to_the_next(clean_queues):
    with SubprocessWorker():  # solo pool: jobs run in the main thread, as in a prefork pool process
        first, second = (sessions.apply_async(kwargs={"project_id": str(new_id())}).get(timeout=60) for _ in range(2))

    assert first["lock"] is not None and first["lock"] != first["django"]
    sessions_of = [(summary["django"], summary["lock"]) for summary in (first, second)]
    assert sessions_of[1] == sessions_of[0], "a new PostgreSQL session per job costs more than a small job's statements"
