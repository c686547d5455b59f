"""Task ids by code, external id or URL of a tracker: all loaded at once (engine) or queried per key (explanations)."""

from __future__ import annotations

from django.db import connection

from siisurit.models import Task

LOOKUP_FIELDS = ("code", "external_id", "url")


def _checked(field: str) -> str:
    if field not in LOOKUP_FIELDS:
        raise ValueError(f"cannot look tasks up by {field!r}")
    return field


def task_ids_by(*, tracker_id: str, field: str) -> dict[str, str]:
    """All tasks of the tracker with a non-empty `field` → task id; the smallest id wins on duplicates."""
    table = Task._meta.db_table
    with connection.cursor() as cursor:
        # Descending, so that the smallest id is assigned last and wins (the same as `TaskQueryLookup`).
        cursor.execute(
            f"SELECT {_checked(field)}, id::text FROM {table} WHERE tracker_id = %s AND {field} <> '' ORDER BY id DESC",
            [tracker_id],
        )
        return dict(cursor.fetchall())


class _LoadedTaskIds:
    """Task ids of one (tracker, field), loaded at the first lookup (rules decided in SQL never look up)."""

    def __init__(self, tracker_id: str, field: str) -> None:
        self._tracker_id, self._field = tracker_id, field
        self.loaded: dict[str, str] | None = None

    def get(self, key: str, /) -> str | None:
        if self.loaded is None:
            self.loaded = task_ids_by(tracker_id=self._tracker_id, field=self._field)
        return self.loaded.get(key)


class LoadedLookups:
    """Lookup factory for the engine: each (tracker, field) dict is loaded once, when first needed."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, str], _LoadedTaskIds] = {}

    def __call__(self, tracker_id: str, field: str) -> _LoadedTaskIds:
        key = (tracker_id, field)
        if key not in self._loaded:
            self._loaded[key] = _LoadedTaskIds(tracker_id, field)
        return self._loaded[key]


class TaskQueryLookup:
    """Looks up one key at a time, remembering answers; cheap for explaining a few entries."""

    def __init__(self, tracker_id: str, field: str) -> None:
        self._tracker_id = tracker_id
        self._field = _checked(field)
        self._known: dict[str, str | None] = {}

    def get(self, key: str, /) -> str | None:
        if key not in self._known:
            task_id = (
                Task.objects.filter(tracker_id=self._tracker_id, **{self._field: key})
                .order_by("id")
                .values_list("id", flat=True)
                .first()
            )
            self._known[key] = str(task_id) if task_id is not None else None
        return self._known[key]


class QueryLookups:
    """Lookup factory for explanations."""

    def __init__(self) -> None:
        self._lookups: dict[tuple[str, str], TaskQueryLookup] = {}

    def __call__(self, tracker_id: str, field: str) -> TaskQueryLookup:
        key = (tracker_id, field)
        if key not in self._lookups:
            self._lookups[key] = TaskQueryLookup(tracker_id, field)
        return self._lookups[key]
