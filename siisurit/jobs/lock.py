"""One job per thing at a time: PostgreSQL advisory locks held on a dedicated connection.

Why PostgreSQL advisory locks and not a Redis lock with expiry: the lock lives exactly as long as the database
session of the job holding it. When a worker dies, even by SIGKILL, the kernel closes its socket, the server ends
the session and releases the lock; there is no TTL to guess (too short: two runs overlap; too long: a crash blocks
the project) and no renewal thread. The connection is our own, not Django's, so Django closing or recycling its
connection during the job cannot drop the lock, and the job's transactions and rollbacks cannot touch it (it is a
session-level lock). The holder's job id is the session's `application_name`, so a second run names the job it
collides with, read from `pg_stat_activity`: always current, never a leftover.

This module does not import Celery: `--sync` runs in a management command take the very same lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connections

from siisurit.errors import AlreadyRunningError

APPLICATION_NAME_PREFIX = "siisurit job "


def lock_key(name: str) -> int:
    """The signed 64-bit advisory lock key of a lock name such as `match_project:<project id>`."""
    digest = hashlib.blake2b(f"siisurit:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _connection_kwargs() -> dict[str, object]:
    database = connections["default"].settings_dict  # the test database under pytest-django
    return {
        "dbname": database["NAME"],
        "host": database["HOST"] or None,
        "port": database["PORT"] or None,
        "user": database["USER"] or None,
        "password": database["PASSWORD"] or None,
        "connect_timeout": database.get("OPTIONS", {}).get("connect_timeout", 10),
        "autocommit": True,
    }


@contextmanager
def job_lock(name: str | None, *, job_id: str) -> Iterator[None]:
    """Hold the lock `name` for the block, or raise AlreadyRunningError naming the holder's job id.

    `None` means the job needs no lock. Never waits: the second run fails fast and is not retried.
    """
    if name is None:
        yield
        return
    key = lock_key(name)
    connection = psycopg.connect(**_connection_kwargs(), application_name=f"{APPLICATION_NAME_PREFIX}{job_id}"[:63])
    try:
        acquired = connection.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
        if not acquired:
            holder = lock_holder(connection, key)
            kind, _, target = name.partition(":")
            subject = f"{kind} for {target}" if target else kind
            raise AlreadyRunningError(f"{subject} is already running (job id {holder or 'unknown'})", holder=holder)
        yield
    finally:
        connection.close()  # ending the session releases the lock


def lock_holder(connection: psycopg.Connection, key: int) -> str:
    """The job id holding advisory lock `key` in this database, or "" if it is free."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = connection.execute(
        """
        select activity.application_name
        from pg_locks as locks join pg_stat_activity as activity on activity.pid = locks.pid
        where locks.locktype = 'advisory' and locks.granted and locks.objsubid = 1
          and locks.classid = %s and locks.objid = %s
          and locks.database = (select oid from pg_database where datname = current_database())
        """,
        (unsigned >> 32, unsigned & 0xFFFFFFFF),
    ).fetchone()
    if row is None:
        return ""
    return row[0].removeprefix(APPLICATION_NAME_PREFIX)


def lock_is_held(name: str) -> str:
    """The job id holding lock `name` right now, or "" (for status displays and tests; never use it to decide)."""
    with psycopg.connect(**_connection_kwargs()) as connection:
        return lock_holder(connection, lock_key(name))
