"""Import or update an organization from its YAML configuration file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from siisurit.organization_config import ChangeSummary, OrganizationConfigError, organization_update


class Command(BaseCommand):
    help = (
        "Create or update an organization and everything in it (members, user mappings, projects, trackers, "
        "declared tasks, work matches) to match a YAML configuration file. ${NAME} in the file is taken from the "
        "environment or .env. The whole file is validated first and applied in one transaction; what is no longer "
        "in the file is removed (downloaded tasks and work entries of trackers that stay are kept)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="path of the organization's YAML configuration file")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="show what would be created, updated and removed without writing anything (default: off)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = organization_update(path=options["file"], dry_run=options["dry_run"])
        except OrganizationConfigError as error:
            raise CommandError(str(error)) from None
        self._report(summary, verbosity=options["verbosity"])

    def _report(self, summary: ChangeSummary, *, verbosity: int) -> None:
        if verbosity == 0:
            return
        for change in summary.changes:
            if verbosity >= 2 or (summary.dry_run and change.action != "unchanged"):
                self.stdout.write(f"  {'would ' if summary.dry_run else ''}{change}")
        for line in summary.table_lines():
            self.stdout.write(line)
        if summary.dry_run:
            self.stdout.write(
                self.style.WARNING(f"Dry run for organization '{summary.organization_code}': nothing was written.")
            )
        elif summary.has_changes:
            self.stdout.write(self.style.SUCCESS(f"Updated organization '{summary.organization_code}'."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Organization '{summary.organization_code}' is up to date."))
