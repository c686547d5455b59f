"""Download tasks."""

from siisurit.jobs.catalog import DOWNLOAD_TRACKER
from workers.job_tasks import job_celery_task

download_tracker = job_celery_task(DOWNLOAD_TRACKER)
