"""`manage.py make_demo_organization`: the demo users and the demo organization, pointed at the sandbox trackers."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from siisurit.demo.organization import (
    DEMO_ORGANIZATION_FILE,
    DEMO_USERS_FILE,
    DemoOrganizationSummary,
    demo_organization_make,
)
from siisurit.demo.trackers import DEMO_SANDBOX_BASE_PORT, DEMO_SANDBOX_HOST, is_secret_variable
from siisurit.organization_config import OrganizationConfigError
from siisurit.organization_config.users_csv import UsersCsvError


class Command(BaseCommand):
    help = (
        "Create or update the demo users (examples/demo-users.csv) and the demo organization "
        "(examples/demo-organization.yaml) with its projects and trackers. Idempotent. The file's ${DEMO_*} "
        "variables (tracker locations, tokens, user names) default to the sandbox trackers of `manage.py demo` / "
        f"`make up` on {DEMO_SANDBOX_HOST}:{DEMO_SANDBOX_BASE_PORT}-{DEMO_SANDBOX_BASE_PORT + 5} (github, gitlab, "
        "jira, youtrack, kimai, clockodo); values already set in the environment or .env are kept unless "
        "--sandbox-host or --sandbox-port is given."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--sandbox-host",
            metavar="HOST",
            help=f"loopback address of the sandbox trackers (default: $SII_DEMO_SANDBOX_HOST or {DEMO_SANDBOX_HOST})",
        )
        parser.add_argument(
            "--sandbox-port",
            metavar="BASE",
            type=int,
            help="port of the first sandbox tracker (github); the others follow in the order gitlab, jira, youtrack, "
            f"kimai, clockodo (default: $SII_DEMO_SANDBOX_PORT or {DEMO_SANDBOX_BASE_PORT})",
        )
        parser.add_argument(
            "--users-file",
            type=Path,
            default=DEMO_USERS_FILE,
            metavar="CSV",
            help="users to create (default: examples/demo-users.csv)",
        )
        parser.add_argument(
            "--organization-file",
            type=Path,
            default=DEMO_ORGANIZATION_FILE,
            metavar="YAML",
            help="organization to import (default: examples/demo-organization.yaml)",
        )
        parser.add_argument(
            "--dry-run", action="store_true",
            help="show what would be created and updated without writing anything (default: off)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        explicit = options["sandbox_host"] is not None or options["sandbox_port"] is not None
        host = options["sandbox_host"] or settings.ENV.str("SII_DEMO_SANDBOX_HOST", DEMO_SANDBOX_HOST)
        base_port = options["sandbox_port"]
        if base_port is None:
            base_port = settings.ENV.int("SII_DEMO_SANDBOX_PORT", DEMO_SANDBOX_BASE_PORT, minimum=1, maximum=65530)
        try:
            summary = demo_organization_make(
                host=host, base_port=base_port, override_variables=explicit, users_path=options["users_file"],
                organization_path=options["organization_file"], dry_run=options["dry_run"],
            )  # fmt: skip
        except (UsersCsvError, OrganizationConfigError, ValueError) as error:
            raise CommandError(str(error)) from None
        self._report(summary, verbosity=options["verbosity"])

    def _report(self, summary: DemoOrganizationSummary, *, verbosity: int) -> None:
        if verbosity == 0:
            return
        if verbosity >= 2:
            for name, (value, source) in sorted(summary.variables.items()):
                shown = "(set)" if is_secret_variable(name) else value
                self.stdout.write(f"  {name}={shown}  [{source}]")
        users = summary.users.as_dict()
        prefix = "would be " if summary.dry_run else ""
        self.stdout.write(
            f"Demo users: {users['created']} {prefix}created, {users['updated']} {prefix}updated, "
            f"{users['unchanged']} unchanged."
        )
        organization = summary.organization
        if verbosity >= 2 or summary.dry_run:
            for change in organization.changes:
                if verbosity >= 2 or change.action != "unchanged":
                    self.stdout.write(f"  {'would ' if summary.dry_run else ''}{change}")
        for line in organization.table_lines():
            self.stdout.write(line)
        if summary.dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
        elif organization.has_changes:
            self.stdout.write(self.style.SUCCESS(f"Updated demo organization '{organization.organization_code}'."))
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Demo organization '{organization.organization_code}' is up to date.")
            )
