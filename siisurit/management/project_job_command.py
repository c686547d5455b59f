"""Base of the job commands taking `ORG [PROJECT]`: one job per project of an organization."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from siisurit.jobs import JobRequest
from siisurit.management.base import JobCommand
from siisurit.models import Organization, Project


class ProjectJobCommand(JobCommand):
    """Subclasses name the job (`job_name`) and the verb shown in progress bars and summaries (`verb`)."""

    job_name: str
    verb: str

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
            JobRequest(self.job_name, {"project_id": str(project.id)}, f"{self.verb} {project}") for project in projects
        ]
