"""`manage.py update_project ORG [PROJECT]`: download all trackers of the projects, then match and rebuild reports."""

from __future__ import annotations

from siisurit.management.project_job_command import ProjectJobCommand


class Command(ProjectJobCommand):
    help = (
        "Download tasks and work entries of all trackers of an organization's projects (or of one project), then "
        "match work entries to tasks and rebuild the report views. One job per project."
    )
    job_name = "update_project"
    verb = "update"
