"""`manage.py match_project ORG [PROJECT]`: match work entries to tasks again, without downloading."""

from __future__ import annotations

from siisurit.management.project_job_command import ProjectJobCommand


class Command(ProjectJobCommand):
    help = (
        "Match the work entries of an organization's projects (or of one project) to tasks again by the projects' "
        "work match rules, without downloading. Only entries whose match changes are written. One job per project."
    )
    job_name = "match_project"
    verb = "match"
