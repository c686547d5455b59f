"""`manage.py demo` (what `make demo` runs): the whole main job on the sandbox trackers, then a summary.

Starts the sandbox trackers (or reuses those of `make up`) and one Celery worker, imports the demo organization,
runs `update_project demo` through the queue, prints what came of it, and stops what it started.
"""

from __future__ import annotations

import io
import logging
import time
from argparse import ArgumentParser
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from siisurit.demo.organization import (
    DEMO_ORGANIZATION_FILE,
    DEMO_SUPERUSER_PASSWORD,
    DEMO_SUPERUSER_USERNAME,
    DemoOrganizationSummary,
    demo_organization_make,
    demo_superuser_make,
)
from siisurit.demo.sandbox import DemoSandbox, DemoSandboxError, demo_sandbox
from siisurit.demo.summary import ProjectSummary, organization_summary
from siisurit.demo.trackers import (
    DEMO_ENTRY_COUNT,
    DEMO_SANDBOX_BASE_PORT,
    DEMO_SANDBOX_HOST,
    DEMO_SANDBOX_SEED,
    DEMO_TASK_COUNT,
)
from siisurit.demo.worker import DemoWorkerError, demo_worker, demo_worker_log_path
from siisurit.jobs import job_runner
from siisurit.organization_config import OrganizationConfigError
from siisurit.organization_config.users_csv import UsersCsvError

FLOWER_URL = "http://127.0.0.1:5555"
ADMIN_URL = "http://127.0.0.1:8000/admin/"
REPORT_VIEWS = ("report.task", "report.work", "report.unmatched_work", "report.assignee", "report.contribution")


class Command(BaseCommand):
    help = (
        "Run the main job end to end on local sandbox trackers: start the sandbox (GitHub, GitLab, Jira, YouTrack, "
        f"Kimai, Clockodo on {DEMO_SANDBOX_HOST}:{DEMO_SANDBOX_BASE_PORT}-{DEMO_SANDBOX_BASE_PORT + 5}, or reuse "
        "the ones `make up` serves) and one Celery worker, import the demo users and organization, run "
        "`update_project demo` through the job queue (downloads, matching, report views), print a summary, and stop "
        "the worker and the sandbox again. Idempotent: running it again updates the same rows. In the local "
        f"environment it also creates the superuser '{DEMO_SUPERUSER_USERNAME}' (demo only)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--sandbox-host",
            default=DEMO_SANDBOX_HOST,
            metavar="HOST",
            help=f"loopback address of the sandbox trackers (default: {DEMO_SANDBOX_HOST})",
        )
        parser.add_argument(
            "--sandbox-port",
            type=int,
            default=DEMO_SANDBOX_BASE_PORT,
            metavar="BASE",
            help="port of the first sandbox tracker; the six trackers use BASE to BASE+5 "
            f"(default: {DEMO_SANDBOX_BASE_PORT})",
        )
        parser.add_argument(
            "--tasks",
            type=int,
            default=DEMO_TASK_COUNT,
            metavar="N",
            help=f"issues per sandbox task tracker (default: {DEMO_TASK_COUNT})",
        )
        parser.add_argument(
            "--entries",
            type=int,
            default=DEMO_ENTRY_COUNT,
            metavar="N",
            help=f"work entries per sandbox time tracker (default: {DEMO_ENTRY_COUNT})",
        )
        parser.add_argument("--seed", type=int, default=DEMO_SANDBOX_SEED, help="seed of the sandbox data (default: 1)")
        parser.add_argument(
            "--concurrency", type=int, default=4, metavar="N", help="job slots of the demo's worker (default: 4)"
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=600,
            metavar="SECONDS",
            help="give up waiting for the update after SECONDS (default: 600)",
        )
        parser.add_argument(
            "--organization-file",
            type=Path,
            default=DEMO_ORGANIZATION_FILE,
            metavar="YAML",
            help="organization to import and update (default: examples/demo-organization.yaml)",
        )
        parser.add_argument(
            "--no-progress-bar",
            action="store_true",
            help="do not show progress bars (default: show them on a terminal)",
        )
        parser.add_argument(
            "--no-superuser", action="store_true",
            help=f"do not create the demo superuser '{DEMO_SUPERUSER_USERNAME}' (default: create it, local only)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        if options["verbosity"] == 0:  # silent on success; failures still end in a CommandError
            self.stdout = OutputWrapper(io.StringIO())
        runner = job_runner()
        try:
            with ExitStack() as stack:
                self._step("Starting the sandbox trackers")
                sandbox = stack.enter_context(
                    demo_sandbox(
                        host=options["sandbox_host"], base_port=options["sandbox_port"], seed=options["seed"],
                        task_count=options["tasks"], entry_count=options["entries"],
                    )
                )  # fmt: skip
                self._write_sandbox(sandbox)
                if runner.is_async:
                    self._step("Starting a Celery worker")
                    worker = stack.enter_context(demo_worker(concurrency=options["concurrency"]))
                    self.stdout.write(
                        f"  worker {worker.name} (pid {worker.process.pid}) answers; log: {worker.log_path}"
                    )
                else:
                    self.stdout.write("  SII_USE_ASYNC_QUEUE=false: jobs run in this process, no worker needed")
                self._step("Importing the demo users and organization")
                imported = demo_organization_make(
                    host=sandbox.host, base_port=options["sandbox_port"], override_variables=True,
                    organization_path=options["organization_file"],
                )  # fmt: skip
                self._write_import(imported)
                organization_code = imported.organization.organization_code
                superuser_created = None if options["no_superuser"] else self._make_superuser()
                self._step(f"Updating organization '{organization_code}' through the job queue")
                with self._quiet_logging(options["verbosity"]):
                    call_command(
                        "update_project", organization_code, timeout=options["timeout"],
                        no_progress_bar=options["no_progress_bar"], verbosity=min(options["verbosity"], 1),
                        stdout=self._raw(self.stdout), stderr=self._raw(self.stderr),
                    )  # fmt: skip
                self._step("Stopping what the demo started")
        except (DemoSandboxError, DemoWorkerError, UsersCsvError, OrganizationConfigError) as error:
            raise CommandError(f"demo failed: {error}") from None
        except CommandError as error:
            raise CommandError(f"demo failed: {error}{self._worker_log_hint(runner)}") from None
        projects = organization_summary(organization_code=organization_code)
        self._write_summary(projects)
        self._write_next_steps(projects, superuser_created=superuser_created)
        self.stdout.write(self.style.SUCCESS(f"Demo finished in {time.monotonic() - started:.0f} s."))

    # Output

    @staticmethod
    def _worker_log_hint(runner: Any) -> str:
        return f" (the worker's log: {demo_worker_log_path()})" if runner.is_async else ""

    @staticmethod
    def _raw(wrapper: Any) -> Any:
        """The stream under an OutputWrapper: nested commands' progress bars need it unwrapped."""
        return getattr(wrapper, "_out", wrapper)

    def _step(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"{text} …"))

    def _write_sandbox(self, sandbox: DemoSandbox) -> None:
        how = "started" if sandbox.started else "reusing the ones already running (make up)"
        ports = ", ".join(f"{kind} {port}" for kind, port in sandbox.ports.items())
        self.stdout.write(f"  sandbox on {sandbox.host}: {ports} ({how})")

    @staticmethod
    @contextmanager
    def _quiet_logging(verbosity: int) -> Iterator[None]:
        """Below verbosity 2, this process's INFO lines (in-process jobs) would drown the demo's own output."""
        loggers = [logging.getLogger(name) for name in ("siisurit", "workers", "tasks")]
        levels = [logger.level for logger in loggers]
        if verbosity < 2:
            for logger in loggers:
                logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)

    def _write_import(self, imported: DemoOrganizationSummary) -> None:
        users = imported.users.as_dict()
        counts = {
            action: imported.organization.total(action) for action in ("created", "updated", "unchanged", "removed")
        }
        self.stdout.write(
            f"  users: {users['created']} created, {users['updated']} updated, {users['unchanged']} unchanged"
        )
        self.stdout.write(
            f"  organization '{imported.organization.organization_code}' from {imported.organization_path}: "
            + ", ".join(f"{count} {action}" for action, count in counts.items())
        )

    def _make_superuser(self) -> bool | None:
        if not settings.IS_LOCAL:
            return None
        return demo_superuser_make()

    def _write_summary(self, projects: list[ProjectSummary]) -> None:
        self.stdout.write("")
        if projects:
            self.stdout.write(self.style.MIGRATE_HEADING(f"Summary of organization '{projects[0].organization_code}'"))
        for project in projects:
            self.stdout.write(self.style.MIGRATE_LABEL(f"{project.organization_code}/{project.code} ({project.name})"))
            self.stdout.write(f"  trackers:          {project.trackers}")
            self.stdout.write(f"  tasks:             {project.tasks}")
            self.stdout.write(f"  work entries:      {project.work_entries}")
            self.stdout.write(f"  matched hours:     {project.matched_hours} ({project.matched_entries} entries)")
            self.stdout.write(f"  unmatched hours:   {project.unmatched_hours} ({project.unmatched_entries} entries)")
            if project.top_tasks:
                self.stdout.write("  top tasks by hours:")
                for task in project.top_tasks:
                    self.stdout.write(f"    {task.hours:>9} h  {task.code:<10} {task.title}")

    def _write_next_steps(self, projects: list[ProjectSummary], *, superuser_created: bool | None) -> None:
        example = next((project.example_work_entry_id for project in projects if project.example_work_entry_id), None)
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Where to look next"))
        self.stdout.write("  make up     runs the sandbox, a worker, beat, Flower and the admin until Ctrl-C; then:")
        if settings.IS_LOCAL and not settings.SII_FLOWER_BASIC_AUTH:
            self.stdout.write(f"  Flower      {FLOWER_URL}  (user admin, password admin: Procfile.dev's local default)")
        else:
            self.stdout.write(f"  Flower      {FLOWER_URL}  (credentials: SII_FLOWER_BASIC_AUTH)")
        if superuser_created is None:
            self.stdout.write(f"  Admin       {ADMIN_URL}")
        else:
            state = "created now" if superuser_created else "already existed; its password was left alone"
            self.stdout.write(
                f"  Admin       {ADMIN_URL}  (user {DEMO_SUPERUSER_USERNAME}, password {DEMO_SUPERUSER_PASSWORD}: "
                f"{state}; demo only, local environment only)"
            )
        self.stdout.write(f"  Reports     SQL views {', '.join(REPORT_VIEWS)} (docs/reports.md), e.g. with psql:")
        self.stdout.write(
            "              python manage.py dbshell -- -c "
            "'select task_code, sum(duration_in_hours) from report.work group by 1 order by 2 desc limit 5'"
        )
        explain = f"--id {example}" if example else "--username alice --max-count 1"
        self.stdout.write(f"  Matching    python manage.py explain_work_entry {explain}")
        self.stdout.write("  Jobs        python manage.py jobs")
