"""Report tasks (queue `matching`: they are database bound)."""

from __future__ import annotations

from workers.app import app
from workers.task_base import JobTask


@app.task(base=JobTask, bind=True, name="tasks.reports.rebuild_reports", job_name="rebuild_reports")
def rebuild_reports(self: JobTask, *, dry_run: bool = False) -> dict:
    """Create or replace the report views in schema `report`."""
    return self.run_job(dry_run=dry_run)
