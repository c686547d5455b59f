"""The worker's consumer: hands a job to a pool process before publishing its `task-received` event.

With task events on (Flower), the worker's main process buffers each task event and flushes the buffer (a Redis
PUBLISH, one round trip) at the start of its event loop's next turn, before that turn's poll writes the waiting job
into a pool process's pipe. So every job waited for its own `task-received` event to reach Redis before it could
start: on a busy machine the largest cost of events in the enqueue→start latency (bench/queue_latency.py --probe).
Here the flush waits one more turn: the job is written to the pool process first, and the event follows a moment
later while the job already runs. Nothing is dropped or reordered; events go out at most one loop turn later.

Configured by `CELERY_WORKER_CONSUMER = "workers.consumer:Consumer"` (workers/settings.py).
"""

from __future__ import annotations

from celery.worker.consumer import Consumer as CeleryConsumer


class Consumer(CeleryConsumer):
    """Celery's consumer, flushing buffered task events after the loop's next poll (see the module docstring)."""

    def on_send_event_buffered(self) -> None:
        hub = self.hub
        if hub:
            # Next turn: schedule the flush for the turn after, whose poll has written the job to the pool process.
            hub.call_soon(hub.call_soon, self._flush_events_promise)
        else:
            super().on_send_event_buffered()
