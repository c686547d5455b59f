"""Updating a project: download all its trackers in parallel, then match, then rebuild the report views; and
updating all projects: one `update_project` job per project."""

from __future__ import annotations

import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

from siisurit.downloads.service import tracker_download
from siisurit.errors import AlreadyRunningError
from siisurit.jobs import JobRequest, Progress, Summary, job_context, job_runner, lock_name, running_job_id
from siisurit.matching.service import project_match
from siisurit.models import Project, Tracker
from siisurit.reports.service import reports_make

logger = logging.getLogger(__name__)

# Trackers of one project download in parallel threads inside the update job, so that the update holds its
# project lock for its whole duration (a Celery chord cannot hold one lock across tasks, and a task waiting for
# subtasks can deadlock a worker whose slots are all taken by waiting updates).
DOWNLOAD_THREADS = 4


def project_tracker_ids(*, project_id: str) -> list[str]:
    """Ids of the trackers an update of the project downloads (those with an API kind; see Tracker.downloadable)."""
    trackers = Tracker.objects.downloadable().filter(project_id=project_id).order_by("id")
    return [str(tracker_id) for tracker_id in trackers.values_list("id", flat=True)]


class DownloadsProgress:
    """Progress of a project's trackers downloading at once: items over all trackers, the latest page by name.

    The total is the sum of the trackers' own totals, shown only once every tracker knows its total (a finished
    tracker's total is what it downloaded); until then the count goes on without a total.
    """

    def __init__(self, progress: Progress, tracker_ids: list[str]) -> None:
        self.progress = progress
        self.lock = threading.Lock()
        self.items: dict[str, int] = dict.fromkeys(tracker_ids, 0)
        self.totals: dict[str, int | None] = dict.fromkeys(tracker_ids)

    def of_tracker(self, tracker_id: str) -> Progress:
        """The progress callback of one tracker's download."""

        def report(current: int, total: int | None, what: str) -> None:
            with self.lock:
                self.items[tracker_id], self.totals[tracker_id] = current, total
                self._publish(f"download {what}")

        return report

    def finished(self, tracker_id: str) -> None:
        with self.lock:
            self.totals[tracker_id] = self.items[tracker_id]
            done = sum(1 for total in self.totals.values() if total is not None)
            self._publish(f"download: {done} of {len(self.totals)} trackers done")

    def _publish(self, what: str) -> None:
        totals = self.totals.values()
        total = None if None in totals else sum(totals)  # type: ignore[arg-type]
        self.progress(sum(self.items.values()), total, what)


def _stage(progress: Progress | None, stage: str) -> Progress | None:
    """`progress` with the stage's name before what a step reports (`match: …`, `reports: …`)."""
    if progress is None:
        return None
    return lambda current, total, what: progress(current, total, f"{stage}: {what}")


def project_update(*, project_id: str, progress: Progress | None = None) -> Summary:
    """Update a project: download all its trackers (in parallel), then match, then rebuild the report views.

    Each step takes the lock its own job takes, so a download or matching started separately never overlaps it.
    Progress counts the items downloaded over all trackers, then the entries matched, then the views rebuilt.
    """
    job_id = running_job_id()
    tracker_ids = project_tracker_ids(project_id=project_id)
    downloads_progress = DownloadsProgress(progress, tracker_ids) if progress else None

    def download(tracker_id: str) -> Summary:
        try:
            with job_context(lock_name("download_tracker", tracker_id), job_id=job_id):
                tracker_progress = downloads_progress.of_tracker(tracker_id) if downloads_progress else None
                return tracker_download(tracker_id=tracker_id, progress=tracker_progress)
        finally:
            connections.close_all()  # this thread's own connections
            if downloads_progress:
                downloads_progress.finished(tracker_id)

    with ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS, thread_name_prefix="download") as executor:
        futures = [executor.submit(contextvars.copy_context().run, download, tracker_id) for tracker_id in tracker_ids]
        downloads = [future.result() for future in futures]
    with job_context(lock_name("match_project", project_id), job_id=job_id):
        matching = project_match(project_id=project_id, progress=_stage(progress, "match"))
    try:
        with job_context(lock_name("rebuild_reports"), job_id=job_id):
            reports = reports_make(progress=_stage(progress, "reports"))
    except AlreadyRunningError as error:
        # Report views read live data, so a rebuild that is already running serves this update too.
        reports = {"skipped": str(error)}
    return {
        "project_id": project_id,
        "trackers": len(tracker_ids),
        "downloads": downloads,
        "match": matching,
        "reports": reports,
    }


def projects_update_all(*, sync: bool = False, progress: Progress | None = None) -> Summary:
    """Start one `update_project` job per project through the job runner: on the queue, or in this process (`sync`).

    On the queue the jobs run in parallel on the workers and this returns once all are sent. As with separate jobs,
    one project's failure (a bad token, an update already running) does not stop the others: in this process it
    is logged and listed in the summary.
    """
    runner = job_runner(sync=sync)
    projects = list(Project.objects.select_related("organization").order_by("id"))
    started, failed = [], []
    for index, project in enumerate(projects):
        if progress:
            progress(index, len(projects), f"project {project}")
        handle = runner.start(JobRequest("update_project", {"project_id": str(project.id)}, f"update {project}"))
        started.append(handle.job_id)
        if not runner.is_async:
            outcome = handle.wait()
            if not outcome.ok:
                logger.warning("update of project %s failed: %s", project, outcome.error)
                failed.append({"project": str(project), "project_id": str(project.id), "error": outcome.error})
    if progress:
        progress(len(projects), len(projects), "done")
    return {"projects": len(projects), "jobs": started, "failed": failed}
