"""Keys of downloaded rows, checked once per statement by PostgreSQL (the migration download_keys)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from siisurit.models import Task, TaskAssignee, Tracker, User, WorkEntry
from tests.factories import make_project, make_task, make_tracker, make_user, make_work_entry


@pytest.mark.django_db
def test_rows_naming_a_missing_tracker_task_or_user_are_refused():
    tracker = make_tracker()
    task = make_task(tracker)
    entry = make_work_entry()
    missing_tracker, missing_user = Tracker(name="never saved"), User(username="never saved")
    attempts = {
        "siisurit_workentry.tracker_id": lambda: make_work_entry(missing_tracker),
        "siisurit_workentry.user_id": lambda: WorkEntry.objects.filter(id=entry.id).update(user_id=missing_user.id),
        "siisurit_task.tracker_id": lambda: Task.objects.filter(id=task.id).update(tracker_id=missing_tracker.id),
        "siisurit_taskassignee.task_id": lambda: TaskAssignee.objects.create(
            task=Task(tracker=tracker, code="#missing"), external_username="a"
        ),
        "siisurit_taskassignee.user_id": lambda: TaskAssignee.objects.create(
            task=task, external_username="a", user=missing_user
        ),
    }
    for key, attempt in attempts.items():
        with pytest.raises(IntegrityError, match=f"{key} names a missing"), transaction.atomic():
            attempt()


@pytest.mark.django_db
def test_deleting_trackers_tasks_and_users_in_sql_does_what_django_does():
    tracker, work_tracker, kept_tracker = make_tracker(), make_tracker(api_kind="kimai"), make_tracker()
    alice = make_user("alice-keys")
    task, kept_task = make_task(tracker), make_task(kept_tracker)
    TaskAssignee.objects.create(task=task, external_username="alice", user=alice)
    kept_assignee = TaskAssignee.objects.create(task=kept_task, external_username="alice", user=alice)
    entry = make_work_entry(work_tracker, user=alice)
    kept_entry = make_work_entry(make_tracker(make_project(), api_kind="kimai"), user=alice)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM siisurit_tracker WHERE id = ANY(%s)", [[tracker.id, work_tracker.id]])
        assert not Task.objects.filter(id=task.id).exists() and not WorkEntry.objects.filter(id=entry.id).exists()
        assert not TaskAssignee.objects.filter(task_id=task.id).exists()
        cursor.execute("DELETE FROM siisurit_user WHERE id = %s", [alice.id])
    kept_entry.refresh_from_db()
    kept_assignee.refresh_from_db()
    assert kept_entry.user_id is None and kept_assignee.user_id is None


@pytest.mark.django_db
def test_truncating_trackers_empties_work_entries_tasks_and_assignees():
    TaskAssignee.objects.create(task=make_task(make_tracker()), external_username="a")
    make_work_entry()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses pending foreign key checks
        cursor.execute("TRUNCATE siisurit_organization CASCADE")
    assert not (WorkEntry.objects.exists() or Task.objects.exists() or TaskAssignee.objects.exists())


@pytest.mark.django_db(transaction=True)
def test_a_tracker_cannot_be_deleted_while_a_transaction_adds_rows_to_it():
    """The statement's check locks the rows it names, as a foreign key does: a deletion waits for the commit."""
    tracker = make_tracker(api_kind="kimai")
    with transaction.atomic():
        make_work_entry(tracker)
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
            other.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("DELETE FROM siisurit_tracker WHERE id = %s", [tracker.id])


@pytest.mark.django_db
def test_key_checks_look_rows_up_by_index_even_in_small_tables():
    """A plan made while a table is small (a sequential scan is cheapest there) would be kept by the session while
    the table grows, and read it whole for every key (migration key_triggers_by_index)."""
    tracker = make_tracker()
    user = make_user("indexed-keys")
    referenced = ("siisurit_tracker", "siisurit_task", "siisurit_user", "siisurit_workentry")
    make_work_entry(tracker, external_id="first", task=make_task(tracker, code="#first"))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(referenced)}")  # statistics of tiny tables: a scan of one page is cheapest
    before = _sequential_scans(referenced)
    for number in range(8):  # more than the 5 executions after which PL/pgSQL may keep a generic plan
        task = make_task(tracker, code=f"#{number}")
        TaskAssignee.objects.create(task=task, external_username=f"a{number}", user=user)
        make_work_entry(tracker, external_id=f"w{number}", user=user, task=task)  # and its match (migration 0012)
    assert _sequential_scans(referenced) == before


def _sequential_scans(tables: tuple[str, ...]) -> dict[str, int]:
    """Sequential scans of the tables by this transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE relname = ANY (%s)", [list(tables)]
        )
        return dict(cursor.fetchall())
