"""Matching tasks."""

from siisurit.jobs.catalog import MATCH_PROJECT
from workers.job_tasks import job_celery_task

match_project = job_celery_task(MATCH_PROJECT)
