"""One job per thing at a time: PostgreSQL advisory locks held on a dedicated connection.

Why PostgreSQL advisory locks and not a Redis lock with expiry: the lock lives exactly as long as the database
session of the job holding it. When a worker dies, even by SIGKILL, the kernel closes its socket, the server ends
the session and releases the lock; there is no TTL to guess (too short: two runs overlap; too long: a crash blocks
the project) and no renewal thread. The connection is our own, not Django's, so Django closing or recycling its
connection during the job cannot drop the lock, and the job's transactions and rollbacks cannot touch it (it is a
session-level lock). The holder's job id is the session's `application_name`, so a second run names the job it
collides with, read from `pg_stat_activity`: always current, never a leftover.

A worker's pool process keeps its lock session from one job to the next (`lock_sessions_reuse`), as Django keeps
its connection: a new session per job cost PostgreSQL a process, about as much CPU as the job's own statements of
an unchanged tracker. A session comes back only after releasing its lock cleanly, and lives at most CONN_MAX_AGE
seconds; any error on it closes it, which releases whatever it held.

This module does not import Celery: `--sync` runs in a management command take the very same lock.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connections

from siisurit.errors import AlreadyRunningError

#: A query of one value (SQL with %s placeholders, its parameters) a job reads with its lock, in the same round trip.
Reading = tuple[str, Sequence[Any]]

APPLICATION_NAME_PREFIX = "siisurit job "
#: The `application_name` of a kept lock session between jobs (it holds no lock then).
IDLE_APPLICATION_NAME = "siisurit idle lock session"


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


@dataclass
class _Session:
    """A connection of our own for advisory locks, and until when it may be kept (CONN_MAX_AGE, as Django's)."""

    connection: psycopg.Connection
    opened_with: dict[str, object]
    closes_at: float

    @classmethod
    def open(cls, kwargs: dict[str, object], job_id: str) -> _Session:
        max_age = connections["default"].settings_dict.get("CONN_MAX_AGE") or 0
        connection = psycopg.connect(**kwargs, application_name=_application_name(job_id))
        return cls(connection, kwargs, time.monotonic() + max_age)

    def try_lock(self, key: int, job_id: str, reading: Reading | None = None) -> tuple[bool, Any]:
        """Name the session after the job, try the lock and read `reading`, in one round trip: whether it got the
        lock, and the value read (None without `reading`)."""
        statement = "select set_config('application_name', %s, false), pg_try_advisory_lock(%s)"
        params: list[Any] = [_application_name(job_id), key]
        if reading is not None:
            statement += f", ({reading[0]})"
            params += reading[1]
        row = self.connection.execute(statement, params).fetchone()
        return row[1], (row[2] if reading is not None else None)

    def release(self, key: int | None) -> bool:
        """Release the lock (if `key`) and rename the session idle; whether it may be kept (else close it)."""
        if self.connection.closed or self.connection.broken:
            return False
        row = self.connection.execute(
            "select coalesce(pg_advisory_unlock(%s), true), set_config('application_name', %s, false)",
            (key, IDLE_APPLICATION_NAME),
        ).fetchone()
        return row[0] and time.monotonic() < self.closes_at


class _KeptSessions:
    """The lock session a process keeps between jobs: none unless `lock_sessions_reuse` was called."""

    def __init__(self) -> None:
        self.reuse = False
        self._guard = threading.Lock()
        self._kept: _Session | None = None

    def take(self, kwargs: dict[str, object]) -> _Session | None:
        with self._guard:
            session, self._kept = self._kept, None
        if session is not None and (session.opened_with != kwargs or time.monotonic() >= session.closes_at):
            session.connection.close()
            return None
        return session

    def keep(self, session: _Session) -> bool:
        """Keep `session` (holding no lock) for the next job; False if it is not wanted (then close it)."""
        if not self.reuse:
            return False
        with self._guard:
            if self._kept is not None:  # the steps of a project update lock in parallel: keep one, as for one job
                return False
            self._kept = session
        return True


_kept_sessions = _KeptSessions()


def lock_sessions_reuse() -> None:
    """Keep this process's lock session open between jobs (a worker's pool process calls it once it starts)."""
    _kept_sessions.reuse = True


def _application_name(job_id: str) -> str:
    return f"{APPLICATION_NAME_PREFIX}{job_id}"[:63]


def _locked_session(key: int, job_id: str, reading: Reading | None) -> tuple[_Session, bool, Any]:
    """A session (kept or new), whether it got the lock and the value read; a kept session that died is replaced by
    a new one."""
    kwargs = _connection_kwargs()
    session = _kept_sessions.take(kwargs)
    if session is not None:
        try:
            return session, *session.try_lock(key, job_id, reading)
        except (psycopg.OperationalError, psycopg.InterfaceError):  # the server restarted or ended the idle session
            session.connection.close()
    session = _Session.open(kwargs, job_id)
    try:
        return session, *session.try_lock(key, job_id, reading)
    except BaseException:
        session.connection.close()
        raise


@contextmanager
def job_lock(name: str | None, *, job_id: str, reading: Reading | None = None) -> Iterator[Any]:
    """Hold the lock `name` for the block, or raise AlreadyRunningError naming the holder's job id.

    `None` means the job needs no lock. Never waits: the second run fails fast and is not retried. The block gets
    the value of `reading`, read in the lock's round trip (None without `reading` or without a lock: the caller
    reads it itself then).
    """
    if name is None:
        yield None
        return
    key = lock_key(name)
    session, acquired, value = _locked_session(key, job_id, reading)
    try:
        if not acquired:
            holder = lock_holder(session.connection, key)
            kind, _, target = name.partition(":")
            subject = f"{kind} for {target}" if target else kind
            raise AlreadyRunningError(f"{subject} is already running (job id {holder or 'unknown'})", holder=holder)
        yield value
    finally:
        kept = False
        try:
            kept = session.release(key if acquired else None) and _kept_sessions.keep(session)
        except psycopg.Error:
            pass
        finally:
            if not kept:
                session.connection.close()  # ending the session releases the lock


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
