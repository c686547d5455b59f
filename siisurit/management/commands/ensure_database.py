"""`manage.py ensure_database`: create the configured PostgreSQL database if it does not exist yet."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from siisurit.database_admin import DatabaseAdminError, database_create


class Command(BaseCommand):
    help = (
        "Create the PostgreSQL database named by SII_POSTGRES_DATABASE if it is missing "
        "(connecting to the maintenance database 'postgres' with the configured credentials). "
        "Does nothing when it exists. Run before `migrate` on a new server."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        database = settings.DATABASES["default"]
        try:
            created = database_create(database=database)
        except DatabaseAdminError as error:
            raise CommandError(str(error)) from error
        if created and options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(f"Created database {database['NAME']}."))
        elif not created and options["verbosity"] >= 2:
            self.stdout.write(f"Database {database['NAME']} exists.")
