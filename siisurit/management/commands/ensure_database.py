"""`manage.py ensure_database`: create the configured PostgreSQL database if it does not exist yet."""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql


class Command(BaseCommand):
    help = (
        "Create the PostgreSQL database named by SII_POSTGRES_DATABASE if it is missing "
        "(connecting to the maintenance database 'postgres' with the configured credentials). "
        "Does nothing when it exists. Run before `migrate` on a new server."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        database = settings.DATABASES["default"]
        name = database["NAME"]
        try:
            with psycopg.connect(
                dbname="postgres",
                host=database["HOST"],
                port=database["PORT"] or None,
                user=database["USER"],
                password=database["PASSWORD"] or None,
                autocommit=True,
                connect_timeout=10,
            ) as connection:
                exists = connection.execute("select 1 from pg_database where datname = %s", [name]).fetchone()
                if exists:
                    if options["verbosity"] >= 2:
                        self.stdout.write(f"Database {name} exists.")
                    return
                connection.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        except psycopg.Error as error:
            host = database["HOST"]
            raise CommandError(f"cannot create database {name} on {host}: {str(error).strip()}") from error
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(f"Created database {name}."))
