"""`manage.py download_tracker ORG PROJECT [TRACKER ...] [--full]`: download trackers without matching."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from siisurit.jobs import JobRequest
from siisurit.management.base import JobCommand
from siisurit.models import Tracker
from siisurit.selectors import UnknownCodeError, organization_get, project_get


class Command(JobCommand):
    help = (
        "Download tasks or work entries of trackers of a project (all trackers with an api_kind, or the named "
        "ones) without matching. Unchanged data comes from the download cache; --full lists everything and removes "
        "what was deleted upstream. One job per tracker."
    )

    def add_job_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("organization", metavar="ORG", help="organization code")
        parser.add_argument("project", metavar="PROJECT", help="project code")
        parser.add_argument("trackers", metavar="TRACKER", nargs="*", help="tracker names (default: all)")
        parser.add_argument(
            "--full",
            action="store_true",
            help="list everything (not only changes) and delete what is gone upstream (default: only changes)",
        )

    def job_requests(self, **options: Any) -> list[JobRequest]:
        try:
            project = project_get(organization=organization_get(code=options["organization"]), code=options["project"])
        except UnknownCodeError as error:
            raise CommandError(str(error)) from None
        trackers = Tracker.objects.downloadable().filter(project=project).order_by("name")
        names = options["trackers"]
        if names:
            trackers = trackers.filter(name__in=names)
            missing = sorted(set(names) - {tracker.name for tracker in trackers})
            if missing:
                raise CommandError(f"project {project} has no downloadable tracker {', '.join(map(repr, missing))}")
        return [
            JobRequest(
                "download_tracker",
                {"tracker_id": str(tracker.id), **({"full": True} if options["full"] else {})},
                f"download {project}/{tracker.name}",
            )
            for tracker in trackers
        ]
