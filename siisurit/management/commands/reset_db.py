"""`manage.py reset_db`: drop the configured database, create it again and migrate it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from siisurit.database_admin import DatabaseAdminError, database_recreate
from siisurit.management.base import quiet_job_logging
from siisurit.management.confirmation import add_no_input_argument, typed_yes
from siisurit.reports.report_user import report_user_make
from siisurit.reports.role_names import ReportUserError
from siisurit.reports.service import existing_report_views


class Command(BaseCommand):
    help = (
        "Drop the configured database (SII_POSTGRES_DATABASE) with ALL its data, create it again and migrate it, "
        "which creates the report views; a configured report role (SII_POSTGRES_REPORT_USERNAME) gets its read "
        "access again. Other sessions on the database (workers, BI tools) are ended. Works on the embedded server "
        "and on configured ones. Asks for confirmation unless --no-input; refused in production unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_no_input_argument(parser, help_text="do not ask for confirmation (default: ask to type 'yes')")
        parser.add_argument(
            "--force",
            action="store_true",
            help="allow it when SII_ENVIRONMENT is production (default: refused there)",
        )
        parser.add_argument(
            "--no-migrate",
            action="store_true",
            help="leave the new database empty, e.g. to restore a dump into it (default: migrate it)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="only say what would be dropped, change nothing (default: off)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        database = settings.DATABASES["default"]
        target = f"database {database['NAME']} on {database['HOST']}"
        verbosity = options["verbosity"]
        if settings.IS_PRODUCTION and not options["force"]:
            raise CommandError(
                f"SII_ENVIRONMENT is production: reset_db would drop {target} with all its data; "
                "add --force if that is really what you want"
            )
        if options["dry_run"]:
            if verbosity >= 1:
                then = "leave it empty" if options["no_migrate"] else "migrate it"
                self.stdout.write(f"Would drop {target} with all its data, create it again and {then}.")
            return
        if options["interactive"] and not self._confirmed(target):
            raise CommandError(f"Cancelled; {target} was not touched.")
        connections.close_all()  # this process's own sessions; the server ends everyone else's
        try:
            database_recreate(database=database)
        except DatabaseAdminError as error:
            raise CommandError(str(error)) from error
        if options["no_migrate"]:
            if verbosity >= 1:
                self.stdout.write(self.style.SUCCESS(f"Re-created {target} (empty, not migrated)."))
            return
        # Migrating fires post_migrate, which creates the report views (siisurit/reports/signals.py).
        with quiet_job_logging(quiet=verbosity < 2):
            call_command("migrate", interactive=False, verbosity=max(verbosity - 1, 0), stdout=self.stdout)
            self._restore_report_role()
        if verbosity >= 1:
            views = ", ".join(f"report.{name}" for name in existing_report_views()) or "none"
            self.stdout.write(self.style.SUCCESS(f"Re-created and migrated {target}; report views: {views}."))

    def _confirmed(self, target: str) -> bool:
        self.stdout.write(f"This drops {target} with all its data and creates it again.")
        return typed_yes("Type 'yes' to continue, or anything else to cancel: ")

    def _restore_report_role(self) -> None:
        """The role outlives the database, its rights in it do not: grant them again if the role is configured."""
        username, password = settings.SII_POSTGRES_REPORT_USERNAME, settings.SII_POSTGRES_REPORT_PASSWORD
        if not (username and password):
            return
        try:
            report_user_make(username=username, password=password)
        except ReportUserError as error:
            self.stderr.write(self.style.WARNING(f"Warning: report role not restored ({error}); run make_report_user"))
