"""A download long enough to kill or stop its worker in the middle: 6 pages of Kimai entries, each answered late."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sandbox import SandboxTrackers
from siisurit.models import Tracker, WorkEntry
from tests.reliability.conftest import log_count
from tests.reliability.processes import Worker

ENTRY_COUNT = 2600  # 6 pages of 500 in Kimai
PAGE_SIZE = 500


@contextmanager
def slow_kimai_sandbox(*, latency_ms: int = 400) -> Iterator[SandboxTrackers]:
    """Sandbox trackers whose Kimai holds ENTRY_COUNT entries and answers each page after `latency_ms`."""
    with SandboxTrackers(seed=7, task_count=5, entry_count=ENTRY_COUNT, other_entry_count=0) as trackers:
        trackers.set_latency(latency_ms, kind="kimai")
        yield trackers


def worker_that_received_the_job(*workers: Worker) -> Worker | None:
    """The first of `workers` that logged receiving a job, or None."""
    return next((worker for worker in workers if " received" in worker.output()), None)


def assert_downloaded_exactly_once(tracker: Tracker, sandbox: SandboxTrackers, workers: list[Worker]) -> None:
    external_ids = list(WorkEntry.objects.filter(tracker=tracker).values_list("external_id", flat=True))
    assert len(external_ids) == len(sandbox.entry_ids("kimai")) == ENTRY_COUNT
    assert len(set(external_ids)) == len(external_ids), "duplicate work entries"
    assert log_count(workers, "downloaded kimai-tracker") == 1, "the download completed more than once"
