"""Every job of Siisurit, declared once: name, service, queue, lock, Celery task module and display name.

Everything else is derived from these declarations: the Celery tasks (`tasks/`), their routes, the queues a worker
consumes, Celery's `imports` and the task a command sends (`workers/job_tasks.py`, `workers/dispatch.py`), and the
task names beat sends. Adding a job means one declaration here and one line in its `tasks/` module.
"""

from __future__ import annotations

from siisurit.downloads.cache_clearing import caches_clear
from siisurit.downloads.service import tracker_download
from siisurit.jobs import Job, job_register
from siisurit.matching.service import project_match
from siisurit.project_update import project_update, projects_update_all
from siisurit.reports.service import reports_make

DOWNLOAD_TRACKER = Job(
    "download_tracker", tracker_download, "download", "tasks.download", "download tracker", lock_kwarg="tracker_id"
)
UPDATE_PROJECT = Job(
    "update_project", project_update, "matching", "tasks.update", "update project", lock_kwarg="project_id"
)
UPDATE_ALL_PROJECTS = Job(
    "update_all_projects", projects_update_all, "maintenance", "tasks.update", "update all projects", global_lock=True
)
MATCH_PROJECT = Job(
    "match_project", project_match, "matching", "tasks.matching", "match project", lock_kwarg="project_id"
)
REBUILD_REPORTS = Job(
    "rebuild_reports", reports_make, "maintenance", "tasks.reports", "rebuild reports", global_lock=True
)
CLEAR_CACHES = Job("clear_caches", caches_clear, "maintenance", "tasks.maintenance", "clear caches")

CATALOG = (DOWNLOAD_TRACKER, UPDATE_PROJECT, UPDATE_ALL_PROJECTS, MATCH_PROJECT, REBUILD_REPORTS, CLEAR_CACHES)
for _job in CATALOG:
    job_register(_job)
