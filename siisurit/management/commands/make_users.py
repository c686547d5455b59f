"""Create or update users in bulk from a CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from siisurit.organization_config.users_csv import UsersCsvError, users_import


class Command(BaseCommand):
    help = (
        "Create or update users from a CSV file (UTF-8, ',' or ';' separated) whose header names the columns: "
        "username, email, full_name (or name, or first_name and last_name), is_active, is_staff, is_superuser, "
        "password. Each row needs a username or an email (then the email is the username); missing trailing cells "
        "are empty. Booleans: any non-empty cell (e.g. 'x') is true, an empty one false; is_active defaults to true "
        "when its column is absent; a superuser is staff too. Existing users get their non-empty cells, and an empty "
        "is_active cell deactivates them. Nothing is written if any row is invalid."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="path of the CSV file")
        parser.add_argument(
            "--update-passwords",
            action="store_true",
            help="also set the password of existing users from non-empty password cells "
            "(default: passwords are only set for new users)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would change without writing anything (default: off)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = users_import(
                path=options["file"], update_passwords=options["update_passwords"], dry_run=options["dry_run"]
            )
        except UsersCsvError as error:
            raise CommandError(str(error)) from None
        verbosity = options["verbosity"]
        prefix = "would " if summary.dry_run else ""
        if verbosity >= 2 or (summary.dry_run and verbosity >= 1):
            for username in summary.created:
                self.stdout.write(f"  {prefix}create user '{username}'")
            for username, changed in summary.updated:
                self.stdout.write(f"  {prefix}update user '{username}' ({', '.join(changed)} changed)")
        if verbosity >= 2:
            for username in summary.unchanged:
                self.stdout.write(f"  keep user '{username}'")
        if verbosity >= 1:
            counts = summary.as_dict()
            text = f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged"
            if summary.dry_run:
                self.stdout.write(self.style.WARNING(f"Users: {text} (dry run: nothing was written)."))
            else:
                self.stdout.write(self.style.SUCCESS(f"Users: {text}."))
