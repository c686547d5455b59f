"""Update tasks: one project (downloads, matching, reports) and the periodic update of all projects."""

from __future__ import annotations

from siisurit.project_update import project_ids_all
from workers.app import app
from workers.task_base import JobTask


@app.task(base=JobTask, bind=True, name="tasks.update.update_project", job_name="update_project")
def update_project(self: JobTask, *, project_id: str) -> dict:
    """Download all trackers of a project, match its work entries, rebuild the report views (one project lock)."""
    return self.run_job(project_id=project_id)


@app.task(base=JobTask, bind=True, name="tasks.update.update_all_projects", job_name="update_all_projects")
def update_all_projects(self: JobTask) -> dict:
    """Enqueue one `update_project` job per project; a project still updating refuses the new one."""
    project_ids = project_ids_all()
    for project_id in project_ids:
        update_project.apply_async(kwargs={"project_id": project_id})
    return {"projects": len(project_ids), "retries": self.request.retries}
