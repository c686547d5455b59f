"""Report tasks."""

from siisurit.jobs.catalog import REBUILD_REPORTS
from workers.job_tasks import job_celery_task

rebuild_reports = job_celery_task(REBUILD_REPORTS)
