"""`manage.py embedded_servers start|stop|status`: the embedded PostgreSQL and Redis of the local environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from siisurit.embedded import (
    EmbeddedServiceError,
    ServiceStatus,
    ensure_postgres,
    ensure_redis,
    status,
    stop_postgres,
    stop_redis,
)

SERVICE_NAMES = ("postgres", "redis")
_STARTERS = {"postgres": ensure_postgres, "redis": ensure_redis}
_STOPPERS = {"postgres": stop_postgres, "redis": stop_redis}


class Command(BaseCommand):
    help = (
        "Start, stop or show the embedded PostgreSQL and Redis that the local environment uses when "
        "SII_POSTGRES_HOST and SII_REDIS_URL are unset. They keep running until stopped; data stays in the data dir."
    )
    requires_system_checks: list[str] = []  # must work while the database is down
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action",
            choices=["start", "stop", "status"],
            help="start: start the servers unless they run already; stop: stop them, keeping their data; "
            "status: show whether they run, starting nothing.",
        )
        parser.add_argument(
            "--service",
            action="append",
            choices=SERVICE_NAMES,
            dest="services",
            help="Only this server; repeat the option for several. Default: postgres and redis.",
        )
        parser.add_argument(
            "--data-dir",
            type=Path,
            help="Folder holding the servers' data, sockets and logs. Default: settings.SII_DATA_DIR "
            "(SII_DATA_DIR, else <repository>/.siisurit).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir: Path = options["data_dir"] or _default_data_dir()
        names = [name for name in SERVICE_NAMES if name in (options["services"] or SERVICE_NAMES)]
        verbosity: int = options["verbosity"]
        action: str = options["action"]
        if action == "start" and getattr(settings, "IS_PRODUCTION", False):
            raise CommandError("Production never uses embedded servers; configure SII_POSTGRES_HOST and SII_REDIS_URL")
        try:
            if action == "start":
                for name in names:
                    _STARTERS[name](data_dir)
            elif action == "stop":
                for name in names:
                    was_running = _STOPPERS[name](data_dir)
                    if verbosity >= 1:
                        self.stdout.write(f"{name}: {'stopped' if was_running else 'was not running'}")
                return
            statuses = [service for service in status(data_dir) if service.name in names]
        except (EmbeddedServiceError, OSError) as error:
            raise CommandError(f"{action} failed for data dir {data_dir}: {error}") from error
        for service in statuses:
            self._write_status(service, verbosity)

    def _write_status(self, service: ServiceStatus, verbosity: int) -> None:
        if verbosity < 1:
            return
        if service.running:
            self.stdout.write(f"{service.name}: running (pid {service.pid}), {service.address}")
        else:
            self.stdout.write(f"{service.name}: not running")
        if verbosity >= 2:
            self.stdout.write(f"  data: {service.data_path}\n  log: {service.log_path}")


def _default_data_dir() -> Path:
    configured = getattr(settings, "SII_DATA_DIR", None)
    return Path(configured) if configured else Path(settings.BASE_DIR) / ".siisurit"
