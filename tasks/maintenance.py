"""Maintenance tasks."""

from siisurit.jobs.catalog import CLEAR_CACHES
from workers.job_tasks import job_celery_task

clear_caches = job_celery_task(CLEAR_CACHES)
