"""Update tasks: one project (downloads, matching, reports), and all projects (one update job per project)."""

from siisurit.jobs.catalog import UPDATE_ALL_PROJECTS, UPDATE_PROJECT
from workers.job_tasks import job_celery_task

update_project = job_celery_task(UPDATE_PROJECT)
update_all_projects = job_celery_task(UPDATE_ALL_PROJECTS)
