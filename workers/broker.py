"""kombu's Redis transport, fixed so that a Redis restart does not end a busy worker (`CELERY_BROKER_TRANSPORT`).

The defect (kombu 5.7.0 with Celery 5.7.0, reported around celery/celery#7185 and celery/kombu#582): when the broker
connection is lost, Celery's consumer first `collect()`s the connection, which detaches the transport from its
`kombu.Connection` (`transport.client = None`), and then closes it. Closing the channel restores the unacknowledged
messages, that is the jobs still running (late acknowledgement), and building a Redis client for that reads
`transport.client.hostname`: `AttributeError("'NoneType' object has no attribute 'hostname'")`. It is not a
connection error, so Celery treats it as unrecoverable and the worker exits. An idle worker has nothing to restore
and survives. The running jobs' acknowledgements, sent on the old channel once they finish, fail the same way, so a
finished job's message stays unacknowledged and runs again after the visibility timeout.

The fix, in two small overrides:

* A channel remembers the connection parameters it was opened with, so Redis commands on it (the acknowledgement
  of a job that finishes after the reconnect) still work after the transport was detached or the channel closed.
* Collecting a connection after it was lost does not restore the unacknowledged messages: their jobs are still
  running in this worker and acknowledge themselves when they finish. Should the worker die before, Redis hands
  them to another worker after the visibility timeout, as after any worker crash. (A normal close, at shutdown,
  still restores what was prefetched and not started.)

Together with `CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False` (there is no second copy to
avoid, so there is nothing to cancel), a job running during a Redis restart finishes once and is acknowledged once.

And one saving: kombu built a new Redis client object for every command it sent outside the consuming loop (a
message taken, acknowledged, every task event, every job sent), on the same connection pool; building one (its table
of response callbacks) was a seventh of the CPU the worker's main process spent per job of the unchanged fan-out
(bench/download.py). A channel now keeps one such client per connection pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _kept_client: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opened_with = SimpleNamespace(client=self.connection.client, default_port=self.connection.default_port)

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """`client`, else the client kept for the channel's current connection pool (a new pool, after a lost
        connection or a fork, gets a new client)."""
        if client:
            yield client
            return
        pool = self.pool
        kept = self._kept_client
        if kept is None or kept.connection_pool is not pool:
            kept = self._kept_client = self._create_client()
        yield kept

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is not None and transport.client is not None:
            return super()._connparams(asynchronous=asynchronous)
        # Detached (the connection was collected) or closed: connect as this channel was opened.
        self.connection = self._opened_with
        try:
            return super()._connparams(asynchronous=asynchronous)
        finally:
            self.connection = transport


class Transport(redis.Transport):
    Channel = Channel

    def _collect(self, connection: Any) -> None:
        """Forget a lost connection's channels without restoring their unacknowledged (running) jobs."""
        for channel in (*self.channels, *self._avail_channels):
            qos = getattr(channel, "_qos", None)
            if qos is not None:
                qos.restore_at_shutdown = False
        # What `kombu.Connection.collect()` does for a transport without `_collect`: close channels, ignore errors.
        for channel in (*self.channels, *self._avail_channels):
            try:
                channel.close()
            except (*self.connection_errors, *self.channel_errors):
                pass
