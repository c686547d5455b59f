"""Drop the report views, keeping the schema `report`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from siisurit.errors import SiisuritError
from siisurit.management.confirmation import add_no_input_argument, typed_yes
from siisurit.reports.service import existing_report_views, reports_clear


class Command(BaseCommand):
    help = (
        "Drop every report view in schema 'report' (the schema and the report role's rights on it stay). "
        "BI dashboards stop working until make_reports creates the views again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="only list the views that would be dropped (default: off)"
        )
        add_no_input_argument(parser, help_text="drop without asking for confirmation (default: ask)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            summary = reports_clear(dry_run=True)
            if options["verbosity"] >= 1:
                names = ", ".join(f"report.{name}" for name in summary["views"]) or "none"
                self.stdout.write(f"Would drop: {names}")
            return
        if options["interactive"] and not self._confirmed():
            raise CommandError("Cancelled; no view was dropped.")
        try:
            summary = reports_clear()
        except SiisuritError as error:
            raise CommandError(str(error)) from None
        if options["verbosity"] < 1:
            return
        names = ", ".join(f"report.{name}" for name in summary["dropped"]) or "none (no report view existed)"
        self.stdout.write(self.style.SUCCESS(f"Dropped: {names}"))

    def _confirmed(self) -> bool:
        views = existing_report_views()
        if not views:
            return True
        listed = ", ".join(f"report.{name}" for name in views)
        return typed_yes(f"Drop {listed}? Type 'yes' to continue: ")
