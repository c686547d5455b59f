"""Maintenance tasks (queue `maintenance`)."""

from __future__ import annotations

from workers.app import app
from workers.task_base import JobTask


@app.task(base=JobTask, bind=True, name="tasks.maintenance.clear_caches", job_name="clear_caches")
def clear_caches(
    self: JobTask,
    *,
    organization_code: str | None = None,
    project_code: str | None = None,
    tracker_id: str | None = None,
    dry_run: bool = False,
) -> dict:
    """Delete downloaded API responses from the cache (all, or of one organization, project or tracker)."""
    return self.run_job(
        organization_code=organization_code, project_code=project_code, tracker_id=tracker_id, dry_run=dry_run
    )
