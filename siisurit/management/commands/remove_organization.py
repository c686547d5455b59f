"""Remove an organization and all data belonging to it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from siisurit.management.confirmation import add_no_input_argument, typed_yes
from siisurit.organization_config import organization_removal_counts, organization_remove
from siisurit.selectors import UnknownOrganizationError


class Command(BaseCommand):
    help = (
        "Remove an organization with its members, user mappings, projects, trackers, tasks and work entries. "
        "Users themselves stay."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="code of the organization to remove")
        add_no_input_argument(parser, help_text="do not ask for confirmation (default: ask to type 'yes')")
        parser.add_argument("--dry-run", action="store_true", help="only show what would be removed (default: off)")

    def handle(self, *args: Any, **options: Any) -> None:
        code, verbosity = options["code"], options["verbosity"]
        try:
            counts = organization_removal_counts(code=code)
        except UnknownOrganizationError as error:
            raise CommandError(str(error)) from None
        if verbosity >= 1 or options["interactive"]:
            verb = "Would remove" if options["dry_run"] else "This removes"
            self.stdout.write(f"{verb} organization '{code}' with:")
            for kind, count in counts.items():
                self.stdout.write(f"  {count:>8} {kind}")
        if options["dry_run"]:
            return
        if options["interactive"] and not typed_yes("Type 'yes' to continue, or anything else to cancel: "):
            raise CommandError("Removal cancelled; nothing was removed.")
        try:
            removed = organization_remove(code=code)
        except UnknownOrganizationError as error:
            raise CommandError(str(error)) from None
        if verbosity >= 2:
            for kind, count in removed.items():
                self.stdout.write(f"  removed {count:>8} {kind}")
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"Removed organization '{code}'."))
