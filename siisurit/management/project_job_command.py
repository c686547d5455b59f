"""Base of the job commands taking `ORG [PROJECT]`: one job per project of an organization."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from siisurit.jobs import JobRequest
from siisurit.management.base import JobCommand
from siisurit.models import Project
from siisurit.selectors import UnknownCodeError, organization_get, project_get


class ProjectJobCommand(JobCommand):
    """Subclasses name the job (`job_name`) and the verb shown in progress bars and summaries (`verb`)."""

    job_name: str
    verb: str

    def add_job_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("organization", metavar="ORG", help="organization code")
        parser.add_argument("project", metavar="PROJECT", nargs="?", help="project code (default: all projects)")

    def job_requests(self, **options: Any) -> list[JobRequest]:
        try:
            organization = organization_get(code=options["organization"])
            if options["project"]:
                projects = [project_get(organization=organization, code=options["project"])]
            else:
                projects = list(Project.objects.filter(organization=organization).order_by("code"))
        except UnknownCodeError as error:
            raise CommandError(str(error)) from None
        return [
            JobRequest(self.job_name, {"project_id": str(project.id)}, f"{self.verb} {project}") for project in projects
        ]
