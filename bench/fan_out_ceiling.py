"""The fan-out ceiling of bench/download.py: a job that does nothing but wait as long as one tracker answer takes,
loaded into the benchmark's workers with `--include bench.fan_out_ceiling`.

It runs as a download does, but for the download itself: a `JobTask` (retries, delivery count, STARTED and SUCCESS
states, task events) under the tracker's lock with the `org/project` read for its log lines. Fanned out like the
update of unchanged trackers, its speedup is the most that update can reach on the machine at that moment: whatever a
download costs comes on top.
"""

from __future__ import annotations

import time

from siisurit.jobs import Job, Summary, job_register
from workers.app import app  # noqa: F401  (first: the app imports the task modules, which import workers.job_tasks)
from workers.job_tasks import job_celery_task

TASK_NAME = "bench.fan_out_ceiling.fan_out_ceiling"


def fan_out_ceiling(*, tracker_id: str, sleep_ms: int) -> Summary:
    """Wait `sleep_ms` milliseconds, as long as a download of an unchanged tracker waits for its one answer."""
    time.sleep(sleep_ms / 1000)
    return {"tracker_id": tracker_id, "requests": 0, "items": 0}


CEILING = job_register(
    Job("fan_out_ceiling", fan_out_ceiling, "download", __name__, "fan-out ceiling", lock_kwarg="tracker_id")
)
fan_out_ceiling_task = job_celery_task(CEILING)
assert fan_out_ceiling_task.name == TASK_NAME
