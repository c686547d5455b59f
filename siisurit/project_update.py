"""Updating a project: download all its trackers in parallel, then match, then rebuild the report views."""

from __future__ import annotations

import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

from siisurit.errors import AlreadyRunningError, SiisuritError
from siisurit.jobs import Progress, Summary, job_execute, running_job_id
from siisurit.models import Project, Tracker

logger = logging.getLogger(__name__)

# Trackers of one project download in parallel threads inside the update job, so that the update holds its
# project lock for its whole duration (a Celery chord cannot hold one lock across tasks, and a task waiting for
# subtasks can deadlock a worker whose slots are all taken by waiting updates).
DOWNLOAD_THREADS = 4


def project_tracker_ids(*, project_id: str) -> list[str]:
    """Ids of the trackers an update of the project downloads."""
    return [
        str(tracker_id) for tracker_id in Tracker.objects.filter(project_id=project_id).values_list("id", flat=True)
    ]


def project_ids_all() -> list[str]:
    """Ids of all projects, as the periodic update visits them."""
    return [str(project_id) for project_id in Project.objects.order_by("id").values_list("id", flat=True)]


def project_update(*, project_id: str, progress: Progress | None = None) -> Summary:
    """Update a project: download all its trackers (in parallel), then match, then rebuild the report views."""
    job_id = running_job_id()
    tracker_ids = project_tracker_ids(project_id=project_id)
    total = len(tracker_ids) + 2
    done = 0
    progress_lock = threading.Lock()

    def download(tracker_id: str) -> Summary:
        nonlocal done
        try:
            return job_execute("download_tracker", {"tracker_id": tracker_id}, job_id=job_id)
        finally:
            connections.close_all()  # this thread's own connections
            with progress_lock:
                done += 1
                if progress:
                    progress(done, total, f"downloaded tracker {tracker_id}")

    if progress:
        progress(0, total, "download")
    with ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS, thread_name_prefix="download") as executor:
        futures = [executor.submit(contextvars.copy_context().run, download, tracker_id) for tracker_id in tracker_ids]
        downloads = [future.result() for future in futures]
    if progress:
        progress(total - 2, total, "match")
    matching = job_execute("match_project", {"project_id": project_id}, job_id=job_id)
    if progress:
        progress(total - 1, total, "reports")
    try:
        reports = job_execute("rebuild_reports", {}, job_id=job_id)
    except AlreadyRunningError as error:
        # Report views read live data, so a rebuild that is already running serves this update too.
        reports = {"skipped": str(error)}
    if progress:
        progress(total, total, "done")
    return {
        "project_id": project_id,
        "trackers": len(tracker_ids),
        "downloads": downloads,
        "match": matching,
        "reports": reports,
    }


def projects_update_all(*, progress: Progress | None = None) -> Summary:
    """The in-process update of every project, one after the other (the queue enqueues one job per project).

    As with separate jobs on the queue, one project's failure (a bad token, an update already running) does not
    stop the others: it is logged and listed in the summary.
    """
    project_ids = project_ids_all()
    failed = []
    for index, project_id in enumerate(project_ids):
        if progress:
            progress(index, len(project_ids), f"project {project_id}")
        try:
            job_execute("update_project", {"project_id": project_id}, job_id=running_job_id())
        except SiisuritError as error:
            logger.warning("update of project %s failed: %s", project_id, error)
            failed.append({"project_id": project_id, "error": str(error)})
    return {"projects": len(project_ids), "failed": failed}
