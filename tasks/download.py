"""Download tasks (queue `download`)."""

from __future__ import annotations

from workers.app import app
from workers.task_base import JobTask


@app.task(base=JobTask, bind=True, name="tasks.download.download_tracker", job_name="download_tracker")
def download_tracker(self: JobTask, *, tracker_id: str, full: bool = False) -> dict:
    """Download the tasks or work entries of one tracker (`full` ignores the incremental cursor)."""
    return self.run_job(tracker_id=tracker_id, full=full)
