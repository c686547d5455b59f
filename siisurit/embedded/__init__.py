"""Embedded PostgreSQL and Redis for the `local` environment, so a fresh clone needs nothing installed.

Plain functions without Django imports: settings.py calls them while Django settings load. The caller decides
whether to use them (configured servers always win; production never uses them).
"""

from siisurit.embedded.errors import EmbeddedServiceError
from siisurit.embedded.postgres_server import PostgresAddress, ensure_database, ensure_postgres, stop_postgres
from siisurit.embedded.redis_server import ensure_redis, stop_redis
from siisurit.embedded.service_status import ServiceStatus
from siisurit.embedded.services import status, stop_all

__all__ = [
    "EmbeddedServiceError",
    "PostgresAddress",
    "ServiceStatus",
    "ensure_database",
    "ensure_postgres",
    "ensure_redis",
    "status",
    "stop_all",
    "stop_postgres",
    "stop_redis",
]
