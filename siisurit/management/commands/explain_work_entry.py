"""Print a JSON array explaining why work entries were (not) matched to tasks."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from siisurit.matching.explanation import WorkEntryExplainer, explained_work_entries
from siisurit.models import User, WorkEntry

_CHUNK_SIZE = 500


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise CommandError(f"--max-count must be a positive whole number, not {value!r}")
    return number


def _moment(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option}: {value!r} is not an ISO 8601 time such as 2024-05-01T08:00:00+02:00") from None
    if moment.tzinfo is None:
        raise CommandError(f"{option}: {value!r} needs an offset such as +02:00 or Z")
    return moment


class Command(BaseCommand):
    help = (
        "Print a JSON array explaining why work entries were (not) matched: the entry, its user mapping, every work "
        "match rule of its project in evaluation order with its outcome and reason, the match computed now and the "
        "stored match. Select entries by --id, or the most recent ones by --username, --max-count and a time range."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--id", dest="entry_id", metavar="UUID", help="the work entry with this id (default: any)")
        parser.add_argument(
            "--username", metavar="NAME", help="only entries of this Siisurit user (default: all users)"
        )
        parser.add_argument("--max-count", metavar="N", help="at most the N most recent entries (default: no limit)")
        parser.add_argument(
            "--started-from",
            metavar="TIME",
            help="entries started at or after (ISO 8601, offset/Z; default: no lower bound)",
        )
        parser.add_argument(
            "--started-until",
            metavar="TIME",
            help="entries started before (ISO 8601, offset/Z; default: no upper bound)",
        )

    def handle(self, *args, **options) -> None:
        entries = self._selected_entries(options)
        explainer = WorkEntryExplainer()
        # Streamed one entry at a time, so that the output is a valid JSON array however many entries there are.
        self.stdout.write("[", ending="")
        separator = "\n"
        for explanation in explainer.explanations(entries.iterator(chunk_size=_CHUNK_SIZE)):
            self.stdout.write(separator + json.dumps(explanation, ensure_ascii=False, indent=2), ending="")
            separator = ",\n"
        self.stdout.write("\n]")

    @staticmethod
    def _selected_entries(options: dict) -> QuerySet[WorkEntry]:
        entry_id, username = options["entry_id"], options["username"]
        max_count = _positive_int(options["max_count"]) if options["max_count"] is not None else None
        started_from = _moment("--started-from", options["started_from"])
        started_until = _moment("--started-until", options["started_until"])
        if entry_id is None and username is None and max_count is None and not (started_from or started_until):
            raise CommandError("select work entries: --id, --username, --max-count, --started-from or --started-until")
        entries = explained_work_entries()
        if entry_id is not None:
            try:
                parsed_id = uuid.UUID(entry_id)
            except ValueError:
                raise CommandError(f"--id: {entry_id!r} is not a valid UUID") from None
            if not WorkEntry.objects.filter(id=parsed_id).exists():
                raise CommandError(f"--id: there is no work entry with id {parsed_id}")
            entries = entries.filter(id=parsed_id)
        if username is not None:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"--username: there is no user {username!r}")
            entries = entries.filter(user=user)
        if started_from is not None:
            entries = entries.filter(started_at__gte=started_from)
        if started_until is not None:
            entries = entries.filter(started_at__lt=started_until)
        entries = entries.order_by("-started_at", "-id")
        return entries[:max_count] if max_count is not None else entries
