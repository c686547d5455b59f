"""The result backend: Celery's Redis backend, storing a job's state in one round trip to Redis instead of two.

Before every state write, Celery's key-value backends read the stored state (one round trip), so that a late write
never overwrites SUCCESS (a redelivered duplicate, a lost worker), and then write and publish it (a second round
trip). The STARTED write (task_track_started) happens in the pool process after the message arrived and before the
job's first line, so on a busy machine those two round trips were the largest part of the enqueue→start latency
(bench/queue_latency.py --probe). Here one server-side script does the check, the write and the publish: one round
trip, same rule, and atomic (no other write can slip in between the check and the write).

The STARTED write also counts the delivery of the job (workers/deliveries.py) in the same script, and leaves the
count on the job's request (`request.deliveries`), which `JobTask.run_job` checks: a round trip less per job.

Configured by `CELERY_RESULT_BACKEND = "workers.result_backend:OneTripRedisBackend+redis://…"` (workers/settings.py).
Needs the JSON result serializer (the script reads the stored state); workers/settings.py enforces JSON.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from celery import states
from celery.backends.redis import RedisBackend
from celery.exceptions import BackendStoreError
from kombu.utils.encoding import bytes_to_str
from redis.commands.core import Script

from workers.deliveries import delivery_count_expiry_seconds, delivery_key

# KEYS[1] the result key; ARGV[1] the encoded meta, ARGV[2] expiry in seconds ("0": none). Returns 0 if it kept a
# stored SUCCESS, 1 if it wrote. A stored value that is not JSON is overwritten, as Celery does for unknown content.
_STORE_UNLESS_SUCCEEDED = """
local stored = redis.call('GET', KEYS[1])
if stored then
  local decoded, meta = pcall(cjson.decode, stored)
  if decoded and type(meta) == 'table' and meta['status'] == 'SUCCESS' then
    return 0
  end
end
local expires = tonumber(ARGV[2])
if expires > 0 then
  redis.call('SETEX', KEYS[1], expires, ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


# KEYS[2] the delivery counter of the job's attempt, ARGV[3] its expiry in seconds; then as above. Returns the count.
_COUNT_AND_STORE_UNLESS_SUCCEEDED = (
    "local count = redis.call('INCR', KEYS[2])\n"
    "redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))\n"
    + _STORE_UNLESS_SUCCEEDED.replace("return 0", "return count").replace("return 1", "return count")
)


class OneTripRedisBackend(RedisBackend):
    """Celery's Redis result backend whose task state writes take one round trip (see the module docstring)."""

    @cached_property
    def _store_script(self) -> Script:
        return self.client.register_script(_STORE_UNLESS_SUCCEEDED)

    @cached_property
    def _count_and_store_script(self) -> Script:
        return self.client.register_script(_COUNT_AND_STORE_UNLESS_SUCCEEDED)

    def _store_result(
        self, task_id: Any, result: Any, state: str, traceback: Any = None, request: Any = None, **kwargs: Any
    ) -> Any:
        meta = self._get_result_meta(result=result, state=state, traceback=traceback, request=request)
        if state == states.RETRY and getattr(request, "retry_info", None):
            meta["retry"] = request.retry_info  # attempt, attempts, next_at, error (workers/task_base.py)
        meta["task_id"] = bytes_to_str(task_id)
        value = self.encode(meta)
        if isinstance(value, str) and len(value) > self._MAX_STR_VALUE_SIZE:
            raise BackendStoreError("value too large for Redis backend", state=state, task_id=task_id)
        # `ensure` retries on connection errors like Celery's own writes; store_result retries the rest
        # (result_backend_always_retry).
        key = self.get_key_for_task(task_id)
        if state == states.STARTED and request is not None and not getattr(request, "is_eager", False):
            counter = delivery_key(task_id=bytes_to_str(task_id), retries=request.retries or 0)
            request.deliveries = int(self.ensure(self._count_and_store, (key, value, counter)))
        else:
            self.ensure(self._store_unless_succeeded, (key, value))
        return result

    def _store_unless_succeeded(self, key: bytes | str, value: str | bytes) -> int:
        return self._store_script(keys=[key], args=[value, int(self.expires or 0)])

    def _count_and_store(self, key: bytes | str, value: str | bytes, counter: str) -> int:
        return self._count_and_store_script(
            keys=[key, counter], args=[value, int(self.expires or 0), delivery_count_expiry_seconds()]
        )
