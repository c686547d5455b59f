"""`manage.py jobs`: workers alive, queue lengths, running and recent jobs."""

from __future__ import annotations

import json
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

# Loaded by dotted path: `siisurit/` never imports Celery.
QUEUE_STATUS = "workers.status.queue_status"


def _count(text: str) -> int:
    """argparse type of `--limit`: a whole number of at least 0."""
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        raise ArgumentTypeError(f"must be a whole number of at least 0, not {text!r}")
    return number


class Command(BaseCommand):
    help = "Show live workers, queue lengths, running jobs and recent jobs with state, progress, runtime and error."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--limit", type=_count, default=20, metavar="N", help="show the N most recent jobs (default: 20)"
        )
        parser.add_argument("--json", action="store_true", help="print JSON instead of tables (default: tables)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SII_USE_ASYNC_QUEUE:
            raise CommandError("SII_USE_ASYNC_QUEUE is false: jobs run in the calling process, there is no queue")
        status = import_string(QUEUE_STATUS)(limit=options["limit"])
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2, default=str))
            return
        self._write_workers(status["workers"])
        self._write_queues(status["queues"])
        self._write_jobs("Running jobs", status["running"])
        self._write_jobs(f"Recent jobs (last {options['limit']})", status["recent"])

    def _write_workers(self, workers: dict[str, list[str]]) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING("Workers"))
        if not workers:
            self.stdout.write(
                "  none answered; start one with `celery -A workers worker -Q download,matching,maintenance`"
            )
        for worker, queues in sorted(workers.items()):
            self.stdout.write(f"  {worker}: {', '.join(queues)}")

    def _write_queues(self, queues: dict[str, int]) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING("Queues (waiting jobs)"))
        for queue, length in queues.items():
            self.stdout.write(f"  {queue:<12} {length}")

    def _write_jobs(self, title: str, jobs: list[dict[str, Any]]) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(title))
        if not jobs:
            self.stdout.write("  none")
        for job in jobs:
            arguments = ", ".join(f"{key}={value}" for key, value in (job.get("kwargs") or {}).items())
            runtime = f"{job['runtime_seconds']:.1f} s" if job.get("runtime_seconds") is not None else ""
            line = f"  {job['job_id']}  {job.get('state', ''):<9} {job.get('name') or '?'}({arguments}) {runtime}"
            if job.get("progress"):
                progress = job["progress"]
                line += f" [{progress.get('current')}/{progress.get('total') or '?'} {progress.get('what', '')}]"
            if job.get("error"):
                line += f" error: {job['error']}"
            self.stdout.write(line.rstrip())
