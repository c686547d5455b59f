"""`manage.py update_all_projects`: one `update_project` job per project of every organization (as beat does)."""

from __future__ import annotations

from typing import Any

from siisurit.jobs import JobRequest
from siisurit.management.base import JobCommand


class Command(JobCommand):
    help = (
        "Start one update_project job per project of every organization, as the hourly beat entry does (job "
        "update_all_projects, one at a time). On the queue the updates run in parallel on the workers and the "
        "command waits only until all are sent; with --sync every update runs in this process, one after the other."
    )

    def job_requests(self, **options: Any) -> list[JobRequest]:
        return [JobRequest("update_all_projects", {"sync": options["sync"]}, "update all projects")]
