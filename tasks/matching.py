"""Matching tasks (queue `matching`)."""

from __future__ import annotations

from workers.app import app
from workers.task_base import JobTask


@app.task(base=JobTask, bind=True, name="tasks.matching.match_project", job_name="match_project")
def match_project(self: JobTask, *, project_id: str) -> dict:
    """Match the work entries of a project to its tasks again."""
    return self.run_job(project_id=project_id)
