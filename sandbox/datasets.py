"""Stores of seeded tasks and work entries built from their generators."""

from __future__ import annotations

from sandbox.entries import MAX_MODIFIED_LAG, EntryGenerator
from sandbox.store import LazyStore
from sandbox.tasks import MAX_UPDATE_LAG, TaskGenerator


def task_store(generator: TaskGenerator) -> LazyStore:
    """Tasks by index (number = index + 1); range filters on ``updated`` bisect on ``created``."""
    return LazyStore(
        count=generator.count,
        generate=generator.record,
        core=generator.core,
        first_number=1,
        position=generator.position,
        lag=MAX_UPDATE_LAG,
    )


def entry_store(generator: EntryGenerator) -> LazyStore:
    """Entries by index (id = first_id + index); range filters on ``begin``/``modified`` bisect on ``begin``."""
    return LazyStore(
        count=generator.count,
        generate=generator.record,
        core=generator.core,
        first_number=generator.first_id,
        position=generator.position,
        lag=MAX_MODIFIED_LAG,
    )
