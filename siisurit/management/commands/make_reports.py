"""`manage.py make_reports`: create or replace the report views in schema `report` (job `rebuild_reports`)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from siisurit.jobs import JobRequest
from siisurit.management.base import JobCommand
from siisurit.reports.service import reports_make


class Command(JobCommand):
    help = (
        "Create or replace the report views (report.task, report.work, report.assignee, report.contribution, "
        "report.unmatched_work) in one transaction, as job rebuild_reports; safe while BI tools are connected. "
        "Views whose definition is unchanged are kept."
    )

    def add_job_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print the SQL statements without running them or starting a job (default: off)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            statements = reports_make(dry_run=True)["statements"]
            if options["verbosity"] >= 1:
                for statement in statements:
                    self.stdout.write(f"{statement};\n")
            return
        super().handle(*args, **options)

    def job_requests(self, **options: Any) -> list[JobRequest]:
        return [JobRequest("rebuild_reports", {}, "make reports")]
