"""`manage.py jobs`: workers alive, queue lengths; retrying and failed jobs first, then running and recent ones."""

from __future__ import annotations

import json
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.module_loading import import_string

from siisurit.jobs.subject import job_subject
from siisurit.models import DownloadOutcome, Tracker
from siisurit.retry_policy import duration_text

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


def _duration(seconds: float | None) -> str:
    """`42 s`, `3 min 5 s`, `2 h 14 min` (whole seconds); empty when unknown."""
    return "" if seconds is None else duration_text(seconds, tenths=False)


# TOOK: from enqueueing to the end over all attempts (a running job: its current attempt so far).
COLUMNS = ("STATE", "JOB", "SUBJECT", "ATTEMPTS", "ENQUEUED", "TOOK", "DETAIL", "JOB ID")


class Command(BaseCommand):
    help = (
        "Show live workers and queue lengths, then jobs: retrying and failed ones first (attempts, next attempt, "
        "last error), then running ones (progress), then recent ones; each named by its organization, project or "
        "tracker, with the time since it was enqueued."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--limit",
            type=_count,
            default=20,
            metavar="N",
            help="show at most N retrying or failed and N recent jobs (default: 20)",
        )
        parser.add_argument("--json", action="store_true", help="print JSON instead of tables (default: tables)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SII_USE_ASYNC_QUEUE:
            raise CommandError("SII_USE_ASYNC_QUEUE is false: jobs run in the calling process, there is no queue")
        status = import_string(QUEUE_STATUS)(limit=options["limit"])
        for job in (*status["attention"], *status["running"], *status["recent"]):
            job["subject"] = job_subject(job.get("kwargs") or {})[1]
        status["failing_trackers"] = [
            {"tracker": str(tracker), "failed_at": tracker.last_download_at, "error": tracker.last_download_error}
            for tracker in Tracker.objects.filter(last_download_outcome=DownloadOutcome.FAILED)
            .select_related("project__organization")
            .order_by("-last_download_at")
        ]
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2, default=str))
            return
        self._write_failing_trackers(status["failing_trackers"])
        self._write_workers(status["workers"])
        self._write_queues(status["queues"])
        self._write_jobs("Retrying or failed jobs", status["attention"])
        self._write_jobs("Running jobs", status["running"])
        self._write_jobs(f"Recent jobs (last {options['limit']})", status["recent"])

    def _write_failing_trackers(self, trackers: list[dict[str, Any]]) -> None:
        """Trackers whose last download failed (kept on the tracker), if any: they need attention too."""
        if not trackers:
            return
        self.stdout.write(self.style.MIGRATE_HEADING("Trackers whose last download failed"))
        now = timezone.now()
        for tracker in trackers:
            ago = f"{_duration((now - tracker['failed_at']).total_seconds())} ago" if tracker["failed_at"] else ""
            self.stdout.write(f"  {tracker['tracker']}  {ago}  {tracker['error']}".rstrip())

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
            return
        rows = [COLUMNS] + [
            (
                "RETRYING" if job.get("state") == "RETRY" else str(job.get("state", "")),
                str(job.get("job") or job.get("name") or "?"),
                job.get("subject") or "-",
                str(job.get("attempts") or 1),
                f"{_duration(job.get('since_enqueued_seconds'))} ago" if job.get("since_enqueued_seconds") else "",
                _duration(job["took_seconds"] if job.get("took_seconds") is not None else job.get("runtime_seconds")),
                job.get("detail") or "",
                str(job.get("job_id") or ""),
            )
            for job in jobs
        ]
        # Every column as wide as its widest cell, except DETAIL (free text) which goes last but one.
        widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS))]
        for row in rows:
            cells = [cell.ljust(widths[index]) for index, cell in enumerate(row)]
            detail = cells.pop(COLUMNS.index("DETAIL")).rstrip()
            line = "  " + "  ".join(cells) + (f"  {detail}" if detail else "")
            self.stdout.write(line.rstrip())
