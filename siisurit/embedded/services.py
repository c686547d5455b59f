"""Operations on all embedded servers at once."""

from __future__ import annotations

from pathlib import Path

from siisurit.embedded.postgres_server import postgres_status, stop_postgres
from siisurit.embedded.redis_server import redis_status, stop_redis
from siisurit.embedded.service_status import ServiceStatus


def status(data_dir: Path) -> list[ServiceStatus]:
    """The state of the embedded PostgreSQL and Redis; starts nothing."""
    return [postgres_status(data_dir), redis_status(data_dir)]


def stop_all(data_dir: Path) -> list[str]:
    """Stop the embedded servers of `data_dir`; returns the names of those that were running."""
    stopped = []
    if stop_postgres(data_dir):
        stopped.append("postgres")
    if stop_redis(data_dir):
        stopped.append("redis")
    return stopped
