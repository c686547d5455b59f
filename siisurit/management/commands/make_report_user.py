"""Create the read-only PostgreSQL role that BI tools use to read the report views."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from siisurit.reports.report_user import report_user_make
from siisurit.reports.role_names import ReportUserError


class Command(BaseCommand):
    help = (
        "Create the PostgreSQL role SII_POSTGRES_REPORT_USERNAME with password SII_POSTGRES_REPORT_PASSWORD "
        "(or set the password if the role exists) and grant it exactly: CONNECT on the database, USAGE on schema "
        "'report', SELECT on its views, and SELECT on views created there later. Needs a database user with "
        "CREATEROLE (or SUPERUSER)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print the statements that would run, with the password masked (default: off)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = settings.SII_POSTGRES_REPORT_USERNAME
        password = settings.SII_POSTGRES_REPORT_PASSWORD
        missing = [
            name
            for name, value in (("SII_POSTGRES_REPORT_USERNAME", username), ("SII_POSTGRES_REPORT_PASSWORD", password))
            if not value
        ]
        if missing:
            raise CommandError(f"set {' and '.join(missing)} (environment or .env) to make the report user")
        try:
            summary = report_user_make(username=username, password=password, dry_run=options["dry_run"])
        except ReportUserError as error:
            raise CommandError(str(error)) from None
        verbosity = options["verbosity"]
        if options["dry_run"]:
            if verbosity >= 1:
                for statement in summary["statements"]:
                    self.stdout.write(f"{statement};")
                action = "update the password of" if summary["exists"] else "create"
                self.stdout.write(
                    self.style.WARNING(f"Dry run: would {action} role {username!r}; nothing was changed.")
                )
            return
        for warning in summary["warnings"]:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
        if verbosity >= 1:
            action = "Created" if summary["created"] else "Updated password and rights of"
            self.stdout.write(
                self.style.SUCCESS(f"{action} report role {username!r} (read-only access to schema report).")
            )
