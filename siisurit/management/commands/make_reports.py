"""Create or replace the report views in schema `report`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from siisurit.reports.service import reports_make


class Command(BaseCommand):
    help = (
        "Create or replace the report views (report.task, report.work, report.assignee, report.contribution, "
        "report.unmatched_work) in one transaction; safe while BI tools are connected. Unchanged views are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="print the SQL statements without running them (default: off)"
        )
        parser.add_argument(
            "--force", action="store_true", help="replace views even if their definition is unchanged (default: off)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            for statement in reports_make(dry_run=True)["statements"]:
                self.stdout.write(f"{statement};\n")
            return
        summary = reports_make(force=options["force"])
        for outcome in ("created", "replaced", "recreated", "unchanged"):
            if summary[outcome]:
                self.stdout.write(f"{outcome}: {', '.join(f'report.{name}' for name in summary[outcome])}")
        self.stdout.write(self.style.SUCCESS("Report views are up to date."))
