"""`manage.py match_project ORG [PROJECT]`: match work entries to tasks again, without downloading."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from siisurit.jobs import JobRequest
from siisurit.management.base import JobCommand
from siisurit.models import Organization, Project


class Command(JobCommand):
    help = (
        "Match the work entries of an organization's projects (or of one project) to tasks again by the projects' "
        "work match rules, without downloading. Only entries whose match changes are written. One job per project."
    )

    def add_job_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("organization", metavar="ORG", help="organization code")
        parser.add_argument("project", metavar="PROJECT", nargs="?", help="project code (default: all projects)")

    def job_requests(self, **options: Any) -> list[JobRequest]:
        organization = Organization.objects.filter(code=options["organization"]).first()
        if organization is None:
            raise CommandError(f"organization {options['organization']!r} does not exist")
        projects = Project.objects.filter(organization=organization).order_by("code")
        if options["project"]:
            projects = projects.filter(code=options["project"])
            if not projects.exists():
                raise CommandError(f"project {organization.code}/{options['project']} does not exist")
        return [
            JobRequest("match_project", {"project_id": str(project.id)}, f"match {organization.code}/{project.code}")
            for project in projects
        ]
