"""`manage.py clear_caches`: forget downloaded API responses so that the next update downloads fresh data."""

from __future__ import annotations

import uuid
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from siisurit.jobs import JobRequest
from siisurit.management.base import JobCommand
from siisurit.selectors import UnknownCodeError, organization_get, project_get


class Command(JobCommand):
    help = (
        "Clear the download cache (remembered API responses), of all trackers or of one organization, project or "
        "tracker, without asking: the next update downloads them again. Queued jobs are not touched."
    )

    def add_job_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--organization", metavar="CODE", help="only the trackers of this organization (default: all trackers)"
        )
        parser.add_argument(
            "--project",
            metavar="CODE",
            help="only the trackers of this project (needs --organization; default: all its projects)",
        )
        parser.add_argument("--tracker", metavar="UUID", help="only the tracker with this id (default: all)")
        parser.add_argument(
            "--dry-run", action="store_true", help="count the cached responses, delete nothing (default: off)"
        )
        # Cached downloads can always be fetched again, so clearing them asks nothing (scripts and cron run it bare).
        parser.add_argument(
            "--no-input", "--noinput", action="store_true", help="accepted for older scripts; nothing is ever asked"
        )

    def job_requests(self, **options: Any) -> list[JobRequest]:
        if options["project"] and not options["organization"]:
            raise CommandError("--project needs --organization")
        if options["organization"]:  # checked here too, so that a typo is answered before any job starts
            try:
                organization = organization_get(code=options["organization"])
                if options["project"]:
                    project_get(organization=organization, code=options["project"])
            except UnknownCodeError as error:
                raise CommandError(str(error)) from None
        if options["tracker"]:
            try:
                options["tracker"] = str(uuid.UUID(options["tracker"]))
            except ValueError:
                raise CommandError(f"--tracker: {options['tracker']!r} is not a tracker id (UUID)") from None
        scope = (
            " ".join(f"{name} {options[name]}" for name in ("organization", "project", "tracker") if options[name])
            or "all trackers"
        )
        kwargs = {
            "organization_code": options["organization"],
            "project_code": options["project"],
            "tracker_id": options["tracker"],
            "dry_run": options["dry_run"],
        }
        return [
            JobRequest(
                "clear_caches", {key: value for key, value in kwargs.items() if value}, f"clear caches ({scope})"
            )
        ]
