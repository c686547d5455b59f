"""Primary keys the batched upserts make in SQL are UUIDv7 with this installation's host, like `new_id()`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.test import override_settings

from siisurit.connectors.records import TaskRecord, WorkRecord
from siisurit.downloads.upsert import tracker_tasks_upsert, tracker_work_entries_upsert
from siisurit.downloads.user_mapping import user_resolver_for_tracker
from siisurit.ids import uuid7_host
from siisurit.models import Task, TaskAssignee, WorkEntry
from tests.factories import make_project, make_tracker

pytestmark = pytest.mark.django_db


def test_upserted_rows_get_unique_uuid7_ids_with_the_host():
    tracker = make_tracker()
    work_tracker = make_tracker(make_project(), api_kind="kimai")
    resolver = user_resolver_for_tracker(tracker=tracker)
    started_at = datetime(2024, 1, 1, tzinfo=UTC)
    tasks = [TaskRecord(str(number), f"#{number}", assignees=["a", "b"]) for number in range(5000)]
    entries = [WorkRecord(str(number), "a", started_at, 60) for number in range(5000)]
    with override_settings(SII_UUID_HOST=1234), transaction.atomic():
        tracker_tasks_upsert(tracker_id=tracker.id, records=tasks, resolver=resolver)
        tracker_work_entries_upsert(tracker_id=work_tracker.id, records=entries, resolver=resolver)
    for model, count in ((Task, 5000), (TaskAssignee, 10000), (WorkEntry, 5000)):
        ids = list(model.objects.values_list("id", flat=True))
        assert len(set(ids)) == len(ids) == count
        assert {(value.version, uuid7_host(value)) for value in ids} == {(7, 1234)}
